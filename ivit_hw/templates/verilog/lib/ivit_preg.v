// ivit_preg: a W-bit register with an enable, for copies of one register that must stay apart. A unit
// instantiates several with the same input when one register would fan out to too many loads (ShiftExp's
// comparator bank): a hierarchical synthesis (synth_ecp5 -noflatten, what ivit-hw synth runs on a top)
// keeps every instance, so the placer can put each copy beside its share of the loads (yosys merges
// identical registers within a module; a flat synthesis of a unit alone merges the copies back into one).
module ivit_preg #(
    parameter W = 1
) (
    input  wire         clk,
    input  wire         en,
    input  wire [W-1:0] d,
    output reg  [W-1:0] q
);
    always @(posedge clk) if (en) q <= d;
endmodule
