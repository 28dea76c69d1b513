// ivit_pipediv: fully pipelined unsigned restoring divider, one quotient bit per stage: a new
// division may enter every clock. Latency NW clocks; all stages advance together while en is high.
// side travels with the division. The B = 1 form of ivit_stagediv (every clock a slot).
module ivit_pipediv #(
    parameter NW = 32,
    parameter DW = 16,
    parameter SW = 1
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          en,
    input  wire          in_valid,
    input  wire [NW-1:0] num,
    input  wire [DW-1:0] den,
    input  wire [SW-1:0] in_side,
    output wire          out_valid,
    output wire [NW-1:0] quo,
    output wire [DW-1:0] rem,
    output wire [SW-1:0] out_side
);
    wire slot;
    wire ahead;
    ivit_stagediv #(.NW(NW), .DW(DW), .SW(SW), .B(1), .LEAD(0)) div (
        .clk(clk), .rst(rst), .en(en), .slot(slot), .ahead(ahead), .in_valid(in_valid), .num(num), .den(den),
        .in_side(in_side), .out_valid(out_valid), .quo(quo), .rem(rem), .out_side(out_side));
endmodule
