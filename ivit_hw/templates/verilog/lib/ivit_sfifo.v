// ivit_sfifo: small synchronous first-word-fall-through FIFO of 2^AW words of W bits with a
// combinational read (distributed RAM / registers): out_data is the word at the read pointer,
// in_ready is "not full" from the registered fill level. Used inside the model top (GEMM output
// queues on credits, stream forks, layout filters), where the depth is a handful of words.
module ivit_sfifo #(
    parameter W = 8,
    parameter AW = 3
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] in_data,
    input  wire         in_valid,
    output wire         in_ready,
    output wire [W-1:0] out_data,
    output wire         out_valid,
    input  wire         out_ready
);
    localparam [AW:0] DEPTH = {1'b1, {AW{1'b0}}};
    reg [W-1:0] mem [0:(1 << AW) - 1];
    reg [AW-1:0] wptr;
    reg [AW-1:0] rptr;
    reg [AW:0] count;
    wire push = in_valid && in_ready;
    wire pop = out_valid && out_ready;
    assign in_ready = count != DEPTH;
    assign out_valid = count != {(AW + 1){1'b0}};
    assign out_data = mem[rptr];
    always @(posedge clk) if (push) mem[wptr] <= in_data;
    always @(posedge clk) begin
        if (rst) begin
            wptr <= {AW{1'b0}};
            rptr <= {AW{1'b0}};
            count <= {(AW + 1){1'b0}};
        end else begin
            if (push) wptr <= wptr + 1'b1;
            if (pop) rptr <= rptr + 1'b1;
            if (push && !pop) count <= count + 1'b1;
            else if (pop && !push) count <= count - 1'b1;
        end
    end
endmodule
