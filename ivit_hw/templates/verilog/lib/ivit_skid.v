// ivit_skid: a register slice (skid buffer) of W bits on a valid/ready stream. in_ready, out_valid and
// out_data are registers, so neither the ready nor the valid/data path runs through it: a unit whose
// ready is combinational from its output's (the element-wise units' stall enable) sees only in_ready.
// One word a clock when out_ready stays high; a stalled output parks one more word in the skid register.
module ivit_skid #(
    parameter W = 8
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] in_data,
    input  wire         in_valid,
    output reg          in_ready,
    output reg  [W-1:0] out_data,
    output reg          out_valid,
    input  wire         out_ready
);
    reg [W-1:0] skid;
    wire load = out_ready || !out_valid;  // the output register takes a word this clock
    always @(posedge clk) begin
        if (load) out_data <= in_ready ? in_data : skid;
        if (!load && in_valid && in_ready) skid <= in_data;
    end
    always @(posedge clk) begin
        if (rst) begin
            in_ready <= 1'b1;
            out_valid <= 1'b0;
        end else if (load) begin
            out_valid <= !in_ready || in_valid;
            in_ready <= 1'b1;
        end else if (in_valid && in_ready) begin
            in_ready <= 1'b0;
        end
    end
endmodule
