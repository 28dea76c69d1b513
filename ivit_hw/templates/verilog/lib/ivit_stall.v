// ivit_stall: one copy of a stalling pipeline's enable, !valid || ready (its output register empty or
// taken). An element-wise unit instantiates several, each enabling a share of its registers: a
// hierarchical synthesis (synth_ecp5 -noflatten, what ivit-hw synth runs on a top) keeps every
// instance its own LUT, so no single net fans out to the whole pipeline (yosys merges identical logic
// within a module; a flat synthesis of a unit alone merges the copies back into one).
module ivit_stall (
    input  wire valid,
    input  wire ready,
    output wire en
);
    assign en = !valid || ready;
endmodule
