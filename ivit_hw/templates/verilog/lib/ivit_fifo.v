// ivit_fifo: synchronous first-word-fall-through FIFO of 2^AW words of W bits.
// The memory (block RAM) is read into two registers, the RAM's own read register
// and its output register, then a third register in the fabric holds out_data,
// so neither the slow block-RAM clock-to-output nor its output routing ends in
// logic. Each register is refilled in the cycle it is emptied: a full FIFO
// passes one word per clock. The fabric stage is a register slice (ivit_skid): out_ready
// reaches only its registers, never the RAM's read enables (a routed critical path of the
// block top ran from a consumer's ready through the refill chain to a DP16KD's OCE); in
// block RAM, two slices (the first beside the blocks, the second beside the consumer).
// in_ready is a register, from the last clock's fill level and push (not its pop): it
// falls when the memory would be full, and a pop while full reopens it one clock later,
// so it costs one clock only when the FIFO is full.
// With IVIT_ECP5 defined, AW <= 12 and more than LUTRAM_BITS bits (the hardware plan's
// LUT-RAM limit, ivit_hw/hwplan/memory.py LUTRAM_MAX_BITS) the memory is DP16KD blocks (1024 x 18,
// 2048 x 9 or 4096 x 4), instantiated with REGMODE_B = OUTREG (yosys maps inferred
// memories without the output register); otherwise an inferred memory with the same clocks
// (LUT-RAM: the plan's rule, so the plan counts the blocks the design has).
module ivit_fifo #(
    parameter W = 8,
    parameter AW = 4,
    /* verilator lint_off UNUSEDPARAM */
    parameter LUTRAM_BITS = 1024  // read only under IVIT_ECP5
    /* verilator lint_on UNUSEDPARAM */
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] in_data,
    input  wire         in_valid,
    output reg          in_ready,
    output wire [W-1:0] out_data,
    output wire         out_valid,
    input  wire         out_ready
);
    localparam [AW:0] DEPTH = {1'b1, {AW{1'b0}}};
    reg [AW-1:0] wptr;
    reg [AW-1:0] rptr;
    reg [AW:0] count;  // words in the memory, not counting the three output registers
    reg v1;  // the RAM's read register holds a word
    reg v2;  // the RAM's output register holds a word
    wire [W-1:0] s2_data;  // the RAM's output register
    wire push = in_valid && in_ready;
    wire s3_ready;  // the output slice takes a word (a register)
    wire [W-1:0] s3_data;
    wire s3_valid;
    wire s3_out_ready;
    wire ld3 = v2 && s3_ready;
    wire ld2 = v1 && (!v2 || ld3);
    reg nz;  // the memory holds a word (count != 0) as a register: the pop is one LUT from registers
    wire pop = nz && (!v1 || ld2);

    generate
`ifdef IVIT_ECP5
        if (AW <= 12 && (W << AW) > LUTRAM_BITS) begin : g_dp16kd
            // a DP16KD holds 1024 x 18, 2048 x 9 or 4096 x 4: the widest shape that has the depth
            localparam BW = (AW <= 10) ? 18 : ((AW == 11) ? 9 : 4);
            localparam BAW = (AW <= 10) ? 10 : AW;
            localparam NB = (W + BW - 1) / BW;
            wire [BW*NB-1:0] wd = in_data;  // zero-extended
            wire [BW*NB-1:0] rd;
            wire [BAW-1:0] wa = wptr;  // zero-extended
            wire [BAW-1:0] ra = rptr;
            genvar b;
            for (b = 0; b < NB; b = b + 1) begin : g_blk
                ivit_bram #(.DW(BW), .AW(BAW)) blk (.clk(clk), .we(push), .wa(wa), .wd(wd[BW*b+BW-1:BW*b]),
                    .rce(pop), .oce(ld2), .ra(ra), .rd(rd[BW*b+BW-1:BW*b]));
            end
            assign s2_data = rd[W-1:0];
        end else begin : g_infer
`else
        if (1) begin : g_infer
`endif
            reg [W-1:0] mem [0:(1 << AW) - 1];
            reg [W-1:0] s1;
            reg [W-1:0] s2;
            always @(posedge clk) begin
                if (push) mem[wptr] <= in_data;
                if (pop) s1 <= mem[rptr];
                if (ld2) s2 <= s1;
            end
            assign s2_data = s2;
        end
    endgenerate

    ivit_skid #(.W(W)) s3 (.clk(clk), .rst(rst), .in_data(s2_data), .in_valid(v2), .in_ready(s3_ready),
        .out_data(s3_data), .out_valid(s3_valid), .out_ready(s3_out_ready));
    generate
`ifdef IVIT_ECP5
        if (AW <= 12 && (W << AW) > LUTRAM_BITS) begin : g_out2
            // block RAM: a second slice, so the first may sit beside the blocks and the second beside the
            // consumer (a far consumer's slice ready ran 5 ns into the refill chain and the blocks' OCEB)
            ivit_skid #(.W(W)) s4 (.clk(clk), .rst(rst), .in_data(s3_data), .in_valid(s3_valid),
                .in_ready(s3_out_ready), .out_data(out_data), .out_valid(out_valid), .out_ready(out_ready));
        end else begin : g_out1
`else
        if (1) begin : g_out1
`endif
            assign out_data = s3_data;
            assign out_valid = s3_valid;
            assign s3_out_ready = out_ready;
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            wptr <= {AW{1'b0}};
            rptr <= {AW{1'b0}};
            count <= {(AW + 1){1'b0}};
            v1 <= 1'b0;
            v2 <= 1'b0;
            nz <= 1'b0;
            in_ready <= 1'b1;
        end else begin
            nz <= push || (|count[AW:1]) || (nz && !pop);
            in_ready <= (count != DEPTH) && !(push && count == DEPTH - 1'b1);
            if (push) wptr <= wptr + 1'b1;
            if (pop) rptr <= rptr + 1'b1;
            if (push && !pop) count <= count + 1'b1;
            else if (pop && !push) count <= count - 1'b1;
            if (pop) v1 <= 1'b1;
            else if (ld2) v1 <= 1'b0;
            if (ld2) v2 <= 1'b1;
            else if (ld3) v2 <= 1'b0;
        end
    end
endmodule

`ifdef IVIT_ECP5
// ivit_bram: one DP16KD as a simple dual-port RAM of 2^AW words of DW bits (DW = 18, AW = 10;
// DW = 9, AW = 11; DW = 4, AW = 12): write on port A, read on port B into the read register (rce),
// then the output register (oce). The word address sits above the 14 - AW low address bits, which in
// the 18-bit mode are port A's byte write enables (both on). Kept as its own module: yosys
// re-derives a flattened parameterised DP16KD instance and loses the wrapper.
(* keep_hierarchy *)
module ivit_bram #(
    parameter DW = 18,
    parameter AW = 10
) (
    input  wire          clk,
    input  wire          we,
    input  wire [AW-1:0] wa,
    input  wire [DW-1:0] wd,
    input  wire          rce,
    input  wire          oce,
    input  wire [AW-1:0] ra,
    output wire [DW-1:0] rd
);
    wire [13:0] awr = {wa, {(14 - AW){1'b0}}} | ((DW == 18) ? 14'd3 : 14'd0);
    wire [13:0] ard = {ra, {(14 - AW){1'b0}}};
    wire [17:0] di = wd;  // zero-extended
    wire [17:0] dout;
    assign rd = dout[DW-1:0];
    DP16KD #(
        .DATA_WIDTH_A(DW), .DATA_WIDTH_B(DW), .REGMODE_A("NOREG"), .REGMODE_B("OUTREG"),
        .RESETMODE("SYNC"), .ASYNC_RESET_RELEASE("SYNC"), .CSDECODE_A("0b000"), .CSDECODE_B("0b000"),
        .WRITEMODE_A("NORMAL"), .WRITEMODE_B("NORMAL"), .GSR("DISABLED")
    ) ram (
        .DIA0(di[0]), .DIA1(di[1]), .DIA2(di[2]), .DIA3(di[3]), .DIA4(di[4]), .DIA5(di[5]), .DIA6(di[6]),
        .DIA7(di[7]), .DIA8(di[8]), .DIA9(di[9]), .DIA10(di[10]), .DIA11(di[11]), .DIA12(di[12]),
        .DIA13(di[13]), .DIA14(di[14]), .DIA15(di[15]), .DIA16(di[16]), .DIA17(di[17]), .ADA0(awr[0]),
        .ADA1(awr[1]), .ADA2(awr[2]), .ADA3(awr[3]), .ADA4(awr[4]), .ADA5(awr[5]), .ADA6(awr[6]),
        .ADA7(awr[7]), .ADA8(awr[8]), .ADA9(awr[9]), .ADA10(awr[10]), .ADA11(awr[11]), .ADA12(awr[12]),
        .ADA13(awr[13]), .ADB0(ard[0]), .ADB1(ard[1]), .ADB2(ard[2]), .ADB3(ard[3]), .ADB4(ard[4]),
        .ADB5(ard[5]), .ADB6(ard[6]), .ADB7(ard[7]), .ADB8(ard[8]), .ADB9(ard[9]), .ADB10(ard[10]),
        .ADB11(ard[11]), .ADB12(ard[12]), .ADB13(ard[13]), .DOB0(dout[0]), .DOB1(dout[1]), .DOB2(dout[2]),
        .DOB3(dout[3]), .DOB4(dout[4]), .DOB5(dout[5]), .DOB6(dout[6]), .DOB7(dout[7]), .DOB8(dout[8]),
        .DOB9(dout[9]), .DOB10(dout[10]), .DOB11(dout[11]), .DOB12(dout[12]), .DOB13(dout[13]),
        .DOB14(dout[14]), .DOB15(dout[15]), .DOB16(dout[16]), .DOB17(dout[17]), .DIB0(1'b0), .DIB1(1'b0),
        .DIB2(1'b0), .DIB3(1'b0), .DIB4(1'b0), .DIB5(1'b0), .DIB6(1'b0), .DIB7(1'b0), .DIB8(1'b0), .DIB9(1'b0),
        .DIB10(1'b0), .DIB11(1'b0), .DIB12(1'b0), .DIB13(1'b0), .DIB14(1'b0), .DIB15(1'b0), .DIB16(1'b0),
        .DIB17(1'b0), .CLKA(clk), .CLKB(clk), .WEA(we), .WEB(1'b0), .CEA(1'b1), .CEB(rce), .OCEA(1'b1),
        .OCEB(oce), .RSTA(1'b0), .RSTB(1'b0), .CSA0(1'b0), .CSA1(1'b0), .CSA2(1'b0), .CSB0(1'b0), .CSB1(1'b0),
        .CSB2(1'b0)
    );
endmodule
// ivit_rom18: one DP16KD as a 1024 x 18 ROM (contents in INITVAL_00..3F, word i at bits
// 20*(i%16) .. +17 of INITVAL_(i/16)), read on port B through the read and the output register,
// both on `ce`: rd is the word at ra of two enabled clocks before. Used by the requantize ROMs.
(* keep_hierarchy *)
module ivit_rom18 #(
    parameter [319:0] INITVAL_00 = 320'h0,
    parameter [319:0] INITVAL_01 = 320'h0,
    parameter [319:0] INITVAL_02 = 320'h0,
    parameter [319:0] INITVAL_03 = 320'h0,
    parameter [319:0] INITVAL_04 = 320'h0,
    parameter [319:0] INITVAL_05 = 320'h0,
    parameter [319:0] INITVAL_06 = 320'h0,
    parameter [319:0] INITVAL_07 = 320'h0,
    parameter [319:0] INITVAL_08 = 320'h0,
    parameter [319:0] INITVAL_09 = 320'h0,
    parameter [319:0] INITVAL_0A = 320'h0,
    parameter [319:0] INITVAL_0B = 320'h0,
    parameter [319:0] INITVAL_0C = 320'h0,
    parameter [319:0] INITVAL_0D = 320'h0,
    parameter [319:0] INITVAL_0E = 320'h0,
    parameter [319:0] INITVAL_0F = 320'h0,
    parameter [319:0] INITVAL_10 = 320'h0,
    parameter [319:0] INITVAL_11 = 320'h0,
    parameter [319:0] INITVAL_12 = 320'h0,
    parameter [319:0] INITVAL_13 = 320'h0,
    parameter [319:0] INITVAL_14 = 320'h0,
    parameter [319:0] INITVAL_15 = 320'h0,
    parameter [319:0] INITVAL_16 = 320'h0,
    parameter [319:0] INITVAL_17 = 320'h0,
    parameter [319:0] INITVAL_18 = 320'h0,
    parameter [319:0] INITVAL_19 = 320'h0,
    parameter [319:0] INITVAL_1A = 320'h0,
    parameter [319:0] INITVAL_1B = 320'h0,
    parameter [319:0] INITVAL_1C = 320'h0,
    parameter [319:0] INITVAL_1D = 320'h0,
    parameter [319:0] INITVAL_1E = 320'h0,
    parameter [319:0] INITVAL_1F = 320'h0,
    parameter [319:0] INITVAL_20 = 320'h0,
    parameter [319:0] INITVAL_21 = 320'h0,
    parameter [319:0] INITVAL_22 = 320'h0,
    parameter [319:0] INITVAL_23 = 320'h0,
    parameter [319:0] INITVAL_24 = 320'h0,
    parameter [319:0] INITVAL_25 = 320'h0,
    parameter [319:0] INITVAL_26 = 320'h0,
    parameter [319:0] INITVAL_27 = 320'h0,
    parameter [319:0] INITVAL_28 = 320'h0,
    parameter [319:0] INITVAL_29 = 320'h0,
    parameter [319:0] INITVAL_2A = 320'h0,
    parameter [319:0] INITVAL_2B = 320'h0,
    parameter [319:0] INITVAL_2C = 320'h0,
    parameter [319:0] INITVAL_2D = 320'h0,
    parameter [319:0] INITVAL_2E = 320'h0,
    parameter [319:0] INITVAL_2F = 320'h0,
    parameter [319:0] INITVAL_30 = 320'h0,
    parameter [319:0] INITVAL_31 = 320'h0,
    parameter [319:0] INITVAL_32 = 320'h0,
    parameter [319:0] INITVAL_33 = 320'h0,
    parameter [319:0] INITVAL_34 = 320'h0,
    parameter [319:0] INITVAL_35 = 320'h0,
    parameter [319:0] INITVAL_36 = 320'h0,
    parameter [319:0] INITVAL_37 = 320'h0,
    parameter [319:0] INITVAL_38 = 320'h0,
    parameter [319:0] INITVAL_39 = 320'h0,
    parameter [319:0] INITVAL_3A = 320'h0,
    parameter [319:0] INITVAL_3B = 320'h0,
    parameter [319:0] INITVAL_3C = 320'h0,
    parameter [319:0] INITVAL_3D = 320'h0,
    parameter [319:0] INITVAL_3E = 320'h0,
    parameter [319:0] INITVAL_3F = 320'h0
) (
    input  wire        clk,
    input  wire        ce,
    input  wire [9:0]  ra,
    output wire [17:0] rd
);
    DP16KD #(
        .DATA_WIDTH_A(18), .DATA_WIDTH_B(18), .REGMODE_A("NOREG"), .REGMODE_B("OUTREG"),
        .RESETMODE("SYNC"), .ASYNC_RESET_RELEASE("SYNC"), .CSDECODE_A("0b000"), .CSDECODE_B("0b000"),
        .WRITEMODE_A("NORMAL"), .WRITEMODE_B("NORMAL"), .GSR("DISABLED"),
        .INITVAL_00(INITVAL_00), .INITVAL_01(INITVAL_01), .INITVAL_02(INITVAL_02), .INITVAL_03(INITVAL_03),
        .INITVAL_04(INITVAL_04), .INITVAL_05(INITVAL_05), .INITVAL_06(INITVAL_06), .INITVAL_07(INITVAL_07),
        .INITVAL_08(INITVAL_08), .INITVAL_09(INITVAL_09), .INITVAL_0A(INITVAL_0A), .INITVAL_0B(INITVAL_0B),
        .INITVAL_0C(INITVAL_0C), .INITVAL_0D(INITVAL_0D), .INITVAL_0E(INITVAL_0E), .INITVAL_0F(INITVAL_0F),
        .INITVAL_10(INITVAL_10), .INITVAL_11(INITVAL_11), .INITVAL_12(INITVAL_12), .INITVAL_13(INITVAL_13),
        .INITVAL_14(INITVAL_14), .INITVAL_15(INITVAL_15), .INITVAL_16(INITVAL_16), .INITVAL_17(INITVAL_17),
        .INITVAL_18(INITVAL_18), .INITVAL_19(INITVAL_19), .INITVAL_1A(INITVAL_1A), .INITVAL_1B(INITVAL_1B),
        .INITVAL_1C(INITVAL_1C), .INITVAL_1D(INITVAL_1D), .INITVAL_1E(INITVAL_1E), .INITVAL_1F(INITVAL_1F),
        .INITVAL_20(INITVAL_20), .INITVAL_21(INITVAL_21), .INITVAL_22(INITVAL_22), .INITVAL_23(INITVAL_23),
        .INITVAL_24(INITVAL_24), .INITVAL_25(INITVAL_25), .INITVAL_26(INITVAL_26), .INITVAL_27(INITVAL_27),
        .INITVAL_28(INITVAL_28), .INITVAL_29(INITVAL_29), .INITVAL_2A(INITVAL_2A), .INITVAL_2B(INITVAL_2B),
        .INITVAL_2C(INITVAL_2C), .INITVAL_2D(INITVAL_2D), .INITVAL_2E(INITVAL_2E), .INITVAL_2F(INITVAL_2F),
        .INITVAL_30(INITVAL_30), .INITVAL_31(INITVAL_31), .INITVAL_32(INITVAL_32), .INITVAL_33(INITVAL_33),
        .INITVAL_34(INITVAL_34), .INITVAL_35(INITVAL_35), .INITVAL_36(INITVAL_36), .INITVAL_37(INITVAL_37),
        .INITVAL_38(INITVAL_38), .INITVAL_39(INITVAL_39), .INITVAL_3A(INITVAL_3A), .INITVAL_3B(INITVAL_3B),
        .INITVAL_3C(INITVAL_3C), .INITVAL_3D(INITVAL_3D), .INITVAL_3E(INITVAL_3E), .INITVAL_3F(INITVAL_3F)
    ) ram (
        .DIA0(1'b0), .DIA1(1'b0), .DIA2(1'b0), .DIA3(1'b0), .DIA4(1'b0), .DIA5(1'b0), .DIA6(1'b0),
        .DIA7(1'b0), .DIA8(1'b0), .DIA9(1'b0), .DIA10(1'b0), .DIA11(1'b0), .DIA12(1'b0), .DIA13(1'b0),
        .DIA14(1'b0), .DIA15(1'b0), .DIA16(1'b0), .DIA17(1'b0), .ADA0(1'b0), .ADA1(1'b0), .ADA2(1'b0),
        .ADA3(1'b0), .ADA4(1'b0), .ADA5(1'b0), .ADA6(1'b0), .ADA7(1'b0), .ADA8(1'b0), .ADA9(1'b0),
        .ADA10(1'b0), .ADA11(1'b0), .ADA12(1'b0), .ADA13(1'b0), .ADB0(1'b0),
        .ADB1(1'b0), .ADB2(1'b0), .ADB3(1'b0), .ADB4(ra[0]), .ADB5(ra[1]), .ADB6(ra[2]), .ADB7(ra[3]),
        .ADB8(ra[4]), .ADB9(ra[5]), .ADB10(ra[6]), .ADB11(ra[7]), .ADB12(ra[8]), .ADB13(ra[9]), .DOB0(rd[0]),
        .DOB1(rd[1]), .DOB2(rd[2]), .DOB3(rd[3]), .DOB4(rd[4]), .DOB5(rd[5]), .DOB6(rd[6]), .DOB7(rd[7]),
        .DOB8(rd[8]), .DOB9(rd[9]), .DOB10(rd[10]), .DOB11(rd[11]), .DOB12(rd[12]), .DOB13(rd[13]),
        .DOB14(rd[14]), .DOB15(rd[15]), .DOB16(rd[16]), .DOB17(rd[17]), .DIB0(1'b0), .DIB1(1'b0), .DIB2(1'b0),
        .DIB3(1'b0), .DIB4(1'b0), .DIB5(1'b0), .DIB6(1'b0), .DIB7(1'b0), .DIB8(1'b0), .DIB9(1'b0),
        .DIB10(1'b0), .DIB11(1'b0), .DIB12(1'b0), .DIB13(1'b0), .DIB14(1'b0), .DIB15(1'b0), .DIB16(1'b0),
        .DIB17(1'b0), .CLKA(clk), .CLKB(clk), .WEA(1'b0), .WEB(1'b0), .CEA(1'b0), .CEB(ce), .OCEA(1'b0),
        .OCEB(ce), .RSTA(1'b0), .RSTB(1'b0), .CSA0(1'b0), .CSA1(1'b0), .CSA2(1'b0), .CSB0(1'b0), .CSB1(1'b0),
        .CSB2(1'b0)
    );
endmodule
`endif
