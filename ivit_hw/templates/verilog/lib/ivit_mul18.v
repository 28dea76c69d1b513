// ivit_mul18: signed 18x18 -> 36-bit multiplier with registered inputs and a
// registered product: p = a * b two enabled clocks (ce) after a and b are presented.
// With IVIT_ECP5 defined (ivit-hw synth for ECP5 defines it) it is one MULT18X18D
// using its own input and output registers, so no combinational multiplier sits
// between fabric registers; otherwise a behavioural model of the same latency
// (Icarus, Verilator, other devices). Kept as its own module in synthesis: yosys
// re-derives a flattened parameterised MULT18X18D instance and loses the wrapper.
(* keep_hierarchy *)
module ivit_mul18 (
    input  wire               clk,
    input  wire               ce,
    input  wire signed [17:0] a,
    input  wire signed [17:0] b,
    output wire signed [35:0] p
);
`ifdef IVIT_ECP5
    MULT18X18D #(
        .REG_INPUTA_CLK("CLK0"), .REG_INPUTA_CE("CE0"), .REG_INPUTA_RST("RST0"),
        .REG_INPUTB_CLK("CLK0"), .REG_INPUTB_CE("CE0"), .REG_INPUTB_RST("RST0"),
        .REG_OUTPUT_CLK("CLK0"), .REG_OUTPUT_CE("CE0"), .REG_OUTPUT_RST("RST0"),
        .GSR("DISABLED"), .RESETMODE("SYNC")
    ) dsp (
        .A0(a[0]), .A1(a[1]), .A2(a[2]), .A3(a[3]), .A4(a[4]), .A5(a[5]), .A6(a[6]), .A7(a[7]), .A8(a[8]),
        .A9(a[9]), .A10(a[10]), .A11(a[11]), .A12(a[12]), .A13(a[13]), .A14(a[14]), .A15(a[15]), .A16(a[16]),
        .A17(a[17]),
        .B0(b[0]), .B1(b[1]), .B2(b[2]), .B3(b[3]), .B4(b[4]), .B5(b[5]), .B6(b[6]), .B7(b[7]), .B8(b[8]),
        .B9(b[9]), .B10(b[10]), .B11(b[11]), .B12(b[12]), .B13(b[13]), .B14(b[14]), .B15(b[15]), .B16(b[16]),
        .B17(b[17]),
        .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0),
        .CLK0(clk), .CLK1(1'b0), .CLK2(1'b0), .CLK3(1'b0),
        .CE0(ce), .CE1(1'b0), .CE2(1'b0), .CE3(1'b0),
        .RST0(1'b0), .RST1(1'b0), .RST2(1'b0), .RST3(1'b0),
        .P0(p[0]), .P1(p[1]), .P2(p[2]), .P3(p[3]), .P4(p[4]), .P5(p[5]), .P6(p[6]), .P7(p[7]), .P8(p[8]),
        .P9(p[9]), .P10(p[10]), .P11(p[11]), .P12(p[12]), .P13(p[13]), .P14(p[14]), .P15(p[15]), .P16(p[16]),
        .P17(p[17]), .P18(p[18]), .P19(p[19]), .P20(p[20]), .P21(p[21]), .P22(p[22]), .P23(p[23]), .P24(p[24]),
        .P25(p[25]), .P26(p[26]), .P27(p[27]), .P28(p[28]), .P29(p[29]), .P30(p[30]), .P31(p[31]), .P32(p[32]),
        .P33(p[33]), .P34(p[34]), .P35(p[35])
    );
`else
    reg signed [17:0] ra;
    reg signed [17:0] rb;
    reg signed [35:0] rp;
    always @(posedge clk) if (ce) begin
        ra <= a;
        rb <= b;
        rp <= ra * rb;
    end
    assign p = rp;
`endif
endmodule
