// ivit_fifo: synchronous first-word-fall-through FIFO of 2^AW words of W bits.
// The memory has a registered read (it maps to block RAM with its output
// register); a second register in the fabric holds out_data, so a consumer
// never sees the slow block-RAM clock-to-output. Both are refilled in the
// cycle they are emptied: a full FIFO passes one word per clock. in_ready
// depends only on the fill level.
module ivit_fifo #(
    parameter W = 8,
    parameter AW = 4
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] in_data,
    input  wire         in_valid,
    output wire         in_ready,
    output reg  [W-1:0] out_data,
    output reg          out_valid,
    input  wire         out_ready
);
    localparam [AW:0] DEPTH = {1'b1, {AW{1'b0}}};
    reg [W-1:0] mem [0:(1 << AW) - 1];
    reg [AW-1:0] wptr;
    reg [AW-1:0] rptr;
    reg [AW:0] count;  // words in mem, not counting the two output registers
    reg [W-1:0] s_data;  // block-RAM read register
    reg s_valid;
    wire push = in_valid && in_ready;
    wire move = s_valid && (!out_valid || out_ready);
    wire pop = (count != {(AW + 1){1'b0}}) && (!s_valid || move);
    assign in_ready = (count != DEPTH);

    always @(posedge clk) begin
        if (push) mem[wptr] <= in_data;
        if (pop) s_data <= mem[rptr];
        if (move) out_data <= s_data;
    end

    always @(posedge clk) begin
        if (rst) begin
            wptr <= {AW{1'b0}};
            rptr <= {AW{1'b0}};
            count <= {(AW + 1){1'b0}};
            out_valid <= 1'b0;
            s_valid <= 1'b0;
        end else begin
            if (push) wptr <= wptr + 1'b1;
            if (pop) rptr <= rptr + 1'b1;
            if (push && !pop) count <= count + 1'b1;
            else if (pop && !push) count <= count - 1'b1;
            if (pop) s_valid <= 1'b1;
            else if (move) s_valid <= 1'b0;
            if (move) out_valid <= 1'b1;
            else if (out_ready) out_valid <= 1'b0;
        end
    end
endmodule
