// ivit_pipediv: fully pipelined unsigned restoring divider, one quotient bit
// per stage: a new division may enter every clock. Latency NW clocks; all
// stages advance together while en is high. side travels with the division.
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
    reg [NW-1:0] nq [1:NW];    // numerator bits left to shift in, quotient bits behind them
    reg [DW-1:0] part [1:NW];  // partial remainder (< den)
    reg [DW-1:0] d [1:NW];
    reg [SW-1:0] side [1:NW];
    reg v [1:NW];
    reg [NW-1:0] nq_cur;
    reg [DW-1:0] part_cur;
    reg [DW-1:0] d_cur;
    reg [NW-1:0] nq_next [0:NW-1];
    reg [DW-1:0] part_next [0:NW-1];
    reg [DW:0] trial;
    integer i;

    always @* begin
        trial = {(DW + 1){1'b0}};
        nq_cur = num;
        part_cur = {DW{1'b0}};
        d_cur = den;
        for (i = 0; i < NW; i = i + 1) begin
            if (i > 0) begin
                nq_cur = nq[i];
                part_cur = part[i];
                d_cur = d[i];
            end
            trial = {part_cur, nq_cur[NW-1]};
            nq_next[i] = {nq_cur[NW-2:0], 1'b0};
            if (trial >= {1'b0, d_cur}) begin
                trial = trial - {1'b0, d_cur};
                nq_next[i][0] = 1'b1;
            end
            part_next[i] = trial[DW-1:0];
        end
    end

    integer j;
    always @(posedge clk) begin
        if (rst) v[1] <= 1'b0;
        else if (en) v[1] <= in_valid;
        if (en) begin
            nq[1] <= nq_next[0];
            part[1] <= part_next[0];
            d[1] <= den;
            side[1] <= in_side;
        end
        for (j = 1; j < NW; j = j + 1) begin
            if (rst) v[j + 1] <= 1'b0;
            else if (en) v[j + 1] <= v[j];
            if (en) begin
                nq[j + 1] <= nq_next[j];
                part[j + 1] <= part_next[j];
                d[j + 1] <= d[j];
                side[j + 1] <= side[j];
            end
        end
    end

    assign out_valid = v[NW];
    assign quo = nq[NW];
    assign rem = part[NW];
    assign out_side = side[NW];
endmodule
