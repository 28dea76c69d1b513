// ivit_seqdiv: unsigned sequential restoring divider, R quotient bits per clock.
// start (while idle) begins a division of num/den; done pulses for one clock
// after ceil(NW/R) clocks with quo = num / den and rem = num % den, valid in
// that clock only (an idle divider loads num/den every clock, so start reaches
// only the step counter and the registered busy flag). den must be non-zero.
module ivit_seqdiv #(
    parameter NW = 32,
    parameter DW = 16,
    parameter R = 1
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          start,
    input  wire [NW-1:0] num,
    input  wire [DW-1:0] den,
    output reg           busy,
    output reg           done,
    output wire [NW-1:0] quo,
    output wire [DW-1:0] rem
);
    localparam STEPS = (NW + R - 1) / R;
    localparam NP = STEPS * R;  // numerator padded to whole steps
    localparam CW = $clog2(STEPS + 1);
    reg [NP-1:0] nq;    // numerator bits still to shift in, quotient bits shifted in behind them
    reg [DW-1:0] part;  // partial remainder, always < den
    reg [DW-1:0] d;
    reg [CW-1:0] left;
    reg [NP-1:0] nq_next;
    reg [DW-1:0] part_next;
    reg [DW:0] trial;
    integer i;
    wire [NP-1:0] num_p;

    generate
        if (NP > NW) begin : g_pad
            assign num_p = {{(NP - NW){1'b0}}, num};
        end else begin : g_exact
            assign num_p = num;
        end
    endgenerate

    assign quo = nq[NW-1:0];
    assign rem = part;

    always @* begin
        nq_next = nq;
        part_next = part;
        trial = {(DW + 1){1'b0}};
        for (i = 0; i < R; i = i + 1) begin
            trial = {part_next, nq_next[NP-1]};
            nq_next = {nq_next[NP-2:0], 1'b0};
            if (trial >= {1'b0, d}) begin
                trial = trial - {1'b0, d};
                nq_next[0] = 1'b1;
            end
            part_next = trial[DW-1:0];
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            left <= {CW{1'b0}};
            busy <= 1'b0;
            done <= 1'b0;
        end else begin
            done <= 1'b0;
            if (start && !busy) begin
                left <= STEPS[CW-1:0];
                busy <= 1'b1;
            end else if (busy) begin
                left <= left - 1'b1;
                if (left == {{(CW - 1){1'b0}}, 1'b1}) begin
                    done <= 1'b1;
                    busy <= 1'b0;
                end
            end
        end
        if (busy) begin
            nq <= nq_next;
            part <= part_next;
        end else begin
            nq <= num_p;
            part <= {DW{1'b0}};
            d <= den;
        end
    end
endmodule
