// ivit_stagediv: rate-matched pipelined unsigned non-restoring divider. S = ceil(NW / B) stages, each
// holding one division for B clocks and retiring one quotient bit per clock, so a new division may
// enter every B clocks (in the clock where slot is high) and costs about 1/B of ivit_pipediv's
// registers (ivit_pipediv is the B = 1 case, one division per clock). The numerator is widened to
// S * B bits with leading zeros, which leaves the quotient and remainder unchanged. Latency S * B
// clocks: a division entering in a slot clock is out (out_valid, one clock) S * B clocks later.
// A phase counter runs while en is high; ahead is high LEAD clocks before each slot (with en held
// high), so a producer with a fixed LEAD-clock pipeline can time its entries.
module ivit_stagediv #(
    parameter NW = 32,
    parameter DW = 16,
    parameter SW = 1,
    parameter B = 2,
    parameter LEAD = 0
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          en,
    output wire          slot,
    output wire          ahead,
    input  wire          in_valid,
    input  wire [NW-1:0] num,
    input  wire [DW-1:0] den,
    input  wire [SW-1:0] in_side,
    output wire          out_valid,
    output wire [NW-1:0] quo,
    output wire [DW-1:0] rem,
    output wire [SW-1:0] out_side
);
    localparam S = (NW + B - 1) / B;
    localparam NP = S * B;
    localparam PW = (B > 1) ? $clog2(B) : 1;
    localparam integer LAST_I = B - 1;
    localparam integer AHEAD_I = (B - (LEAD % B)) % B;
    localparam integer BEFORE_I = (AHEAD_I + B - 1) % B;  // the phase before AHEAD's
    localparam [PW-1:0] LAST = LAST_I[PW-1:0];
    localparam [PW-1:0] BEFORE = BEFORE_I[PW-1:0];

    generate
        if (B == 1) begin : g_every
            // one division per clock: every clock is a slot (no phase counter, no input selects)
            assign slot = 1'b1;
            assign ahead = 1'b1;
        end else begin : g_phase
            reg [PW-1:0] ph;  // clocks the current divisions have spent in their stages
            // slot (ph == 0) and ahead (ph == AHEAD) kept in registers, set in the clock before, not compares
            // of the phase counter (ahead's compare ran on into a producer's take and its FIFO's enables)
            reg slot_o;
            reg ahead_o;
            always @(posedge clk) begin
                if (rst) begin
                    ph <= {PW{1'b0}};
                    slot_o <= 1'b1;
                    ahead_o <= (AHEAD_I == 0);
                end else if (en) begin
                    ph <= (ph == LAST) ? {PW{1'b0}} : ph + 1'b1;
                    slot_o <= (ph == LAST);
                    ahead_o <= (ph == BEFORE);
                end
            end
            assign slot = slot_o;
            assign ahead = ahead_o;
        end
    endgenerate

    reg [NP-1:0] nq [0:S-1];    // numerator bits left to shift in, quotient bits behind them
    reg [DW:0] part [0:S-1];    // partial remainder r, two's complement, in [-d, d) (non-restoring)
    reg [DW-1:0] d [0:S-1];
    reg [SW-1:0] side [0:S-1];
    reg v [0:S-1];
    // One non-restoring step: {the numerator shifted left with the new quotient bit in, the next r}. With the
    // next numerator bit b, the next r is 2r + b - d where r >= 0 and 2r + b + d where r < 0: one adder whose
    // operand is d or ~d by r's sign (a register), the carry-in riding on an extra low bit, and nothing
    // after the carry chain but the stage's result select. The quotient bit (next r >= 0) is a restoring
    // divider's; the remainder is the last r, plus d where it is negative (at the output).
    function [NP+DW:0] step;
        input [NP-1:0] nq_in;
        input [DW:0] part_in;
        input [DW-1:0] d_in;
        reg inv;                  // r >= 0: subtract d (add ~d and a carry-in)
        reg [DW+1:0] sum;         // {2r + b, 1} + {d or ~d, carry-in}; the next r is sum >> 1
        begin
            inv = !part_in[DW];
            sum = {part_in[DW-1:0], nq_in[NP-1], 1'b1} + {{1'b0, d_in} ^ {(DW + 1){inv}}, inv};
            step = {nq_in[NP-2:0], !sum[DW+1], sum[DW+1:1]};
        end
    endfunction

    // each stage steps its own division and (for a slot clock) the one it takes over from the stage before,
    // both at once; slot only chooses between the two results, so it starts no compare-subtract (with B = 1
    // every clock is a slot and the own step is never chosen: no logic)
    reg [NP-1:0] nq_next [0:S-1];
    reg [DW:0] part_next [0:S-1];
    reg [NP+DW:0] own, taken;
    reg [NP-1:0] num_p;  // the numerator widened to NP bits with leading zeros
    integer i;
    always @* begin
        num_p = {NP{1'b0}};
        num_p[NW-1:0] = num;
        for (i = 0; i < S; i = i + 1) begin
            own = step(nq[i], part[i], d[i]);
            if (i == 0) taken = step(num_p, {(DW + 1){1'b0}}, den);
            else taken = step(nq[i - 1], part[i - 1], d[i - 1]);
            nq_next[i] = slot ? taken[NP+DW:DW+1] : own[NP+DW:DW+1];
            part_next[i] = slot ? taken[DW:0] : own[DW:0];
        end
    end

    integer j;
    always @(posedge clk) begin
        if (rst) v[0] <= 1'b0;
        else if (en && slot) v[0] <= in_valid;
        if (en && slot) begin
            d[0] <= den;
            side[0] <= in_side;
        end
        for (j = 1; j < S; j = j + 1) begin
            if (rst) v[j] <= 1'b0;
            else if (en && slot) v[j] <= v[j - 1];
            if (en && slot) begin
                d[j] <= d[j - 1];
                side[j] <= side[j - 1];
            end
        end
        for (j = 0; j < S; j = j + 1) begin
            if (en) begin
                nq[j] <= nq_next[j];
                part[j] <= part_next[j];
            end
        end
    end

    assign out_valid = v[S-1] && slot;
    assign quo = nq[S-1][NW-1:0];
    assign rem = part[S-1][DW] ? part[S-1][DW-1:0] + d[S-1] : part[S-1][DW-1:0];
    assign out_side = side[S-1];
endmodule
