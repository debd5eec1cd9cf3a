// The job's store token as a Secret; the pods mount it read-only.
#include "names.h"
#include "object_meta.h"
#include "objects.h"

namespace trainctl::k8s {

Node TokenSecret(const TrainingJob& job, const std::string& token) {
  Node secret = Node::Map();
  secret.Set("apiVersion", "v1");
  secret.Set("kind", "Secret");
  secret.Set("metadata", ObjectMeta(job, TokenSecretName(job.metadata().name())));
  secret.Set("type", "Opaque");
  // stringData keeps the token readable in review; the API server stores it base64 in data.
  Node data = Node::Map();
  data.Set("token", token);
  secret.Set("stringData", std::move(data));
  return secret;
}

}  // namespace trainctl::k8s
