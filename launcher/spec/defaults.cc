#include "defaults.h"

#include "duration.h"
#include "train/defaults.h"

namespace trainctl::spec {
namespace {

void DefaultString(std::string* field, const char* value) {
  if (field->empty()) *field = value;
}

void DefaultDuration(std::string* field, std::chrono::milliseconds value) {
  if (field->empty()) *field = FormatDuration(value);
}

}  // namespace

// Every number and duration below comes from libtrain's table (train/defaults.h), which the
// library uses too; the schema's "Default:" lines are checked against it (defaults_test).
void ApplyDefaults(trainctl::v1alpha1::TrainingJob* job) {
  DefaultString(job->mutable_metadata()->mutable_namespace_(), "default");

  auto* spec = job->mutable_spec();
  DefaultString(spec->mutable_working_dir(), ".");

  auto* nodes = spec->mutable_nodes();
  if (!nodes->has_min()) nodes->set_min(1);
  if (!nodes->has_max()) nodes->set_max(nodes->min());

  auto* resources = spec->mutable_resources();
  if (!resources->has_gpus()) resources->set_gpus(0);
  DefaultString(resources->mutable_gpu_resource(), "nvidia.com/gpu");
  // One worker per GPU is what data-parallel jobs want; without GPUs, one worker per node.
  if (!spec->has_procs_per_node()) {
    spec->set_procs_per_node(resources->gpus() > 0 ? resources->gpus() : 1);
  }

  for (auto& toleration : *spec->mutable_scheduling()->mutable_tolerations()) {
    DefaultString(toleration.mutable_operator_(), "Equal");
  }
  for (auto& preferred :
       *spec->mutable_scheduling()->mutable_affinity()->mutable_preferred_node_expressions()) {
    if (!preferred.has_weight()) preferred.set_weight(1);
  }
  for (auto& spread : *spec->mutable_scheduling()->mutable_topology_spread()) {
    if (!spread.has_max_skew()) spread.set_max_skew(1);
    DefaultString(spread.mutable_when_unsatisfiable(), "DoNotSchedule");
  }

  auto* rdzv = spec->mutable_rendezvous();
  if (!rdzv->has_port()) rdzv->set_port(train::defaults::kStorePort);
  DefaultDuration(rdzv->mutable_join_timeout(), train::defaults::kJoinTimeout);
  DefaultDuration(rdzv->mutable_last_call(), train::defaults::kLastCall);
  DefaultDuration(rdzv->mutable_heartbeat(), train::defaults::kHeartbeat);
  DefaultDuration(rdzv->mutable_heartbeat_timeout(), train::defaults::kHeartbeatTimeout);

  auto* failure = spec->mutable_failure_policy();
  if (!failure->has_max_restarts()) failure->set_max_restarts(train::defaults::kMaxRestarts);
  DefaultDuration(failure->mutable_backoff(), train::defaults::kRestartBackoff);
  DefaultDuration(failure->mutable_preemption_grace(), train::defaults::kPreemptionGrace);

  // Checkpoint settings mean something only with a directory; without one the block stays
  // as written so that validation can point at settings that would be ignored.
  if (spec->has_checkpoint() && !spec->checkpoint().dir().empty()) {
    auto* ckpt = spec->mutable_checkpoint();
    if (!ckpt->has_every_steps()) ckpt->set_every_steps(train::defaults::kCheckpointEverySteps);
    if (!ckpt->has_keep()) ckpt->set_keep(train::defaults::kCheckpointKeep);
    if (!ckpt->has_async()) ckpt->set_async(train::defaults::kCheckpointAsync);
  }
  if (spec->has_checkpoint() && spec->checkpoint().has_memory()) {
    auto* memory = spec->mutable_checkpoint()->mutable_memory();
    if (!memory->has_every_steps()) {
      memory->set_every_steps(train::defaults::kMemorySnapshotEverySteps);
    }
    if (!memory->has_replicas()) memory->set_replicas(train::defaults::kMemorySnapshotReplicas);
  }

  auto* collectives = spec->mutable_collectives();
  DefaultString(collectives->mutable_backend(), "auto");
  DefaultDuration(collectives->mutable_timeout(), train::defaults::kCollectiveTimeout);

  for (auto& volume : *spec->mutable_storage()->mutable_volumes()) {
    if (!volume.has_read_only()) volume.set_read_only(false);
  }
}

}  // namespace trainctl::spec
