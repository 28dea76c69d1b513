// ivit_rrdiv: K sequential dividers (ivit_seqdiv, R quotient bits per clock) taken in turn, for a
// division per row on rows shorter than one division: one compare-subtract per clock and up to K
// divisions in flight. ready says the next divider in turn is idle; start (with ready) hands it
// num/den and side. Every division takes the same ceil(NW/R) + 1 clocks, so results leave in the
// order they entered: done pulses for one clock with quo = num / den, rem = num % den and the side
// given at its start (all three are zero outside done).
module ivit_rrdiv #(
    parameter NW = 32,
    parameter DW = 16,
    parameter R = 1,
    parameter K = 1,
    parameter SW = 1
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          start,
    input  wire [NW-1:0] num,
    input  wire [DW-1:0] den,
    input  wire [SW-1:0] in_side,
    output wire          ready,
    output reg           done,
    output reg  [NW-1:0] quo,
    output reg  [DW-1:0] rem,
    output reg  [SW-1:0] out_side
);
    localparam [K-1:0] FIRST = 1;
    reg [K-1:0] turn;  // one-hot: the divider the next start goes to
    wire [K-1:0] busy;
    wire [K-1:0] fin;
    wire [NW-1:0] q [0:K-1];
    wire [DW-1:0] r [0:K-1];
    reg [SW-1:0] side [0:K-1];
    genvar g;
    generate
        for (g = 0; g < K; g = g + 1) begin : g_div
            wire go = start && turn[g];
            ivit_seqdiv #(.NW(NW), .DW(DW), .R(R)) div (
                .clk(clk), .rst(rst), .start(go), .num(num), .den(den),
                .busy(busy[g]), .done(fin[g]), .quo(q[g]), .rem(r[g]));
            always @(posedge clk) if (go) side[g] <= in_side;
        end
    endgenerate
    wire [2*K-1:0] turn_rot = {turn, turn} >> (K - 1);  // turn rotated left by one
    always @(posedge clk) begin
        if (rst) turn <= FIRST;
        else if (start) turn <= turn_rot[K-1:0];
    end
    assign ready = |(turn & ~busy);
    integer i;
    always @* begin
        done = 1'b0;
        quo = {NW{1'b0}};
        rem = {DW{1'b0}};
        out_side = {SW{1'b0}};
        for (i = 0; i < K; i = i + 1) begin
            if (fin[i]) begin
                done = 1'b1;
                quo = quo | q[i];
                rem = rem | r[i];
                out_side = out_side | side[i];
            end
        end
    end
endmodule
