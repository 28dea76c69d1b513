// ivit_fifo: synchronous first-word-fall-through FIFO of 2^AW words of W bits.
// The memory has a registered read (it maps to block RAM); out_data/out_valid
// form the output register, refilled in the cycle it is consumed, so a full
// FIFO passes one word per clock. in_ready depends only on the fill level.
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
    reg [AW:0] count;  // words in mem, not counting the output register
    wire push = in_valid && in_ready;
    wire pop = (count != {(AW + 1){1'b0}}) && (!out_valid || out_ready);
    assign in_ready = (count != DEPTH);

    always @(posedge clk) begin
        if (push) mem[wptr] <= in_data;
        if (pop) out_data <= mem[rptr];
    end

    always @(posedge clk) begin
        if (rst) begin
            wptr <= {AW{1'b0}};
            rptr <= {AW{1'b0}};
            count <= {(AW + 1){1'b0}};
            out_valid <= 1'b0;
        end else begin
            if (push) wptr <= wptr + 1'b1;
            if (pop) rptr <= rptr + 1'b1;
            if (push && !pop) count <= count + 1'b1;
            else if (pop && !push) count <= count - 1'b1;
            if (pop) out_valid <= 1'b1;
            else if (out_ready) out_valid <= 1'b0;
        end
    end
endmodule
