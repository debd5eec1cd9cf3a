#include "cpu/shm_pipeline.h"

#include <vector>

namespace train::internal {

Status RunPipeline(ShmSync& sync, int slots, std::uint32_t* seq, ShmPipeline& p, OpContext& ctx) {
  const std::uint32_t base = *seq;
  const std::uint32_t chunks = p.chunks;
  const auto slots_u = static_cast<std::uint32_t>(slots);
  auto slot_of = [&](std::uint32_t k) { return static_cast<int>((base + k) % slots_u); };
  // Chunks done with each stage.
  std::uint32_t in = 0, red = 0, out = 0;
  std::uint32_t steps = 0;
  std::uint32_t& finished = p.has_out ? out : red;
  const Stage out_waits_for = p.has_reduce ? Stage::kRed : Stage::kIn;

  // Members to name when the op times out: those that never arrived at it, else those that
  // hold up what this member waits for.
  ShmCondition pending[3];
  int pending_count = 0;
  auto laggards = [&]() {
    std::vector<int> members;
    for (int m = 0; m < sync.size(); ++m) {
      if (m != sync.member() && CounterDiff(sync.Load(m, Stage::kIn), base + 1) < 0) {
        members.push_back(m);
      }
    }
    for (int i = 0; i < pending_count && members.empty(); ++i) {
      for (int m = 0; m < sync.size(); ++m) {
        if (m == sync.member() || (pending[i].only >= 0 && pending[i].only != m)) continue;
        if (CounterDiff(sync.Load(m, pending[i].stage), pending[i].target) < 0) {
          members.push_back(m);
        }
      }
    }
    return members;
  };

  while (finished < chunks) {
    pending_count = 0;
    bool progressed = false;
    // Reduce: every member's chunk is in.
    if (p.has_reduce && red < in) {
      const ShmCondition ready{Stage::kIn, base + red + 1, -1};
      if (sync.Met(ready)) {
        p.Reduce(red, slot_of(red));
        ++red;
        sync.Publish(Stage::kRed, base + red);
        if (!p.has_out) sync.Publish(Stage::kOut, base + red);
        progressed = true;
      } else {
        pending[pending_count++] = ready;
      }
    }
    // Out: every member's share is reduced (or every member's chunk is in).
    const std::uint32_t out_limit = p.has_reduce ? red : in;
    if (p.has_out && out < out_limit) {
      const ShmCondition ready{out_waits_for, base + out + 1, p.source};
      if (sync.Met(ready)) {
        p.Out(out, slot_of(out));
        ++out;
        if (!p.has_reduce && out == chunks) sync.Publish(Stage::kRed, base + out);
        sync.Publish(Stage::kOut, base + out);
        progressed = true;
      } else {
        pending[pending_count++] = ready;
      }
    }
    // In: the slot is free (every member is done with the chunk that used it before). This
    // member's own part of that holds when it finished that chunk.
    if (in < chunks && in - finished < slots_u) {
      const ShmCondition ready{Stage::kOut, base + in + 1 - slots_u, -1};
      if (sync.Met(ready)) {
        p.In(in, slot_of(in));
        ++in;
        sync.Publish(Stage::kIn, base + in);
        progressed = true;
      } else {
        pending[pending_count++] = ready;
      }
    }
    if (progressed) {
      // A long op that never waits still notices an abort or its deadline (the clock read
      // only every few steps: a small op takes two, in about a microsecond).
      TRAIN_RETURN_IF_ERROR(sync.CheckAbort(ctx));
      if ((++steps & 7) == 0 && ctx.Expired()) return sync.StopStatus(ctx, laggards());
      continue;
    }
    if (pending_count == 0) {
      // Only this member's own earlier stages hold it up, which cannot be: a bug.
      return InternalError(ctx.op.Describe() + ": shared-memory pipeline stalled");
    }
    TRAIN_RETURN_IF_ERROR(sync.WaitAny(pending, pending_count, ctx, laggards));
  }
  *seq = base + chunks;
  return Status::Ok();
}

}  // namespace train::internal
