// The etcd store against clusters that authenticate: users and passwords (a wrong password is
// refused naming the user; an expired token is renewed; a user is kept to its prefix), and TLS
// with client certificates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "etcd_cluster.h"
#include "train/store.h"

namespace train {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kUser[] = "trainer";
constexpr char kPassword[] = "correct horse";

std::unique_ptr<etcd_test::EtcdCluster> StartWithAuth(int token_ttl_s, std::string* error) {
  etcd_test::ClusterOptions options;
  options.auth_token_ttl_s = token_ttl_s;
  auto cluster = etcd_test::EtcdCluster::Start(options, error);
  if (cluster && !cluster->EnableAuth(kUser, kPassword, "/trainctl/", error)) return nullptr;
  return cluster;
}

EtcdOptions As(const etcd_test::EtcdCluster& cluster, const std::string& user,
               const std::string& password, const std::string& prefix = "/trainctl/job/") {
  EtcdOptions options;
  options.endpoints = cluster.endpoints();
  options.key_prefix = prefix;
  options.username = user;
  options.password = password;
  options.request_timeout = std::chrono::seconds(10);
  return options;
}

TEST(EtcdAuthTest, AWrongPasswordIsRefusedNamingTheUser) {
  SKIP_WITHOUT_ETCD();
  std::string error;
  auto cluster = StartWithAuth(300, &error);
  ASSERT_NE(cluster, nullptr) << error;
  auto store = ConnectEtcdStore(As(*cluster, kUser, "wrong"));
  ASSERT_TRUE(store.ok()) << store.status();  // connecting sends nothing
  const Status status = (*store)->Set("k", "v");
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("refused user 'trainer'"), HasSubstr("invalid user ID or password"),
                    HasSubstr("TRAIN_ETCD_PASSWORD_FILE")));
}

TEST(EtcdAuthTest, TheRightPasswordWorksAndAnExpiredTokenIsRenewed) {
  SKIP_WITHOUT_ETCD();
  std::string error;
  auto cluster = StartWithAuth(/*token_ttl_s=*/1, &error);
  ASSERT_NE(cluster, nullptr) << error;
  auto store = ConnectEtcdStore(As(*cluster, kUser, kPassword));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Set("k", "v").ok());
  EXPECT_EQ(*(*store)->Add("n", 1), 1);
  // Idle past the token's life: etcd forgets it, and the store must log in again by itself.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto value = (*store)->Get("k", std::chrono::seconds(5));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "v");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(*(*store)->Add("n", 1), 2);
}

TEST(EtcdAuthTest, NoUserIsToldToAuthenticateAndAUserStaysInItsPrefix) {
  SKIP_WITHOUT_ETCD();
  std::string error;
  auto cluster = StartWithAuth(300, &error);
  ASSERT_NE(cluster, nullptr) << error;
  const Status anonymous = (*ConnectEtcdStore(As(*cluster, "", "")))->Set("k", "v");
  EXPECT_EQ(anonymous.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(anonymous.message(), HasSubstr("requires authentication"));

  auto outside = ConnectEtcdStore(As(*cluster, kUser, kPassword, "/elsewhere/"));
  const Status denied = (*outside)->Set("k", "v");
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(), AllOf(HasSubstr("'trainer'"), HasSubstr("/elsewhere/")));
}

// A CA, and a certificate it signed for 127.0.0.1 (server and client use).
bool MakeCertificates(const std::filesystem::path& dir, std::string* error) {
  const std::string d = dir.string();
  const std::string script =
      "set -e; cd '" + d + "'\n" +
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
      "-subj /CN=test-ca\n"
      "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ext\n"
      "for who in server client; do\n"
      "  openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj /CN=$who\n"
      "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out $who.pem -days 2 -extfile ext\n"
      "done\n";
  std::ofstream(dir / "make.sh") << script;
  const std::string command = "/bin/sh '" + d + "/make.sh' > '" + d + "/openssl.log' 2>&1";
  if (std::system(command.c_str()) != 0) {
    std::ifstream log(dir / "openssl.log");
    *error = std::string(std::istreambuf_iterator<char>(log), {});
    return false;
  }
  return true;
}

TEST(EtcdAuthTest, TlsWithAClientCertificate) {
  SKIP_WITHOUT_ETCD();
  if (access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "/usr/bin/openssl is missing";
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("etcd-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string error;
  ASSERT_TRUE(MakeCertificates(dir, &error)) << error;
  etcd_test::ClusterOptions tls;
  tls.cert_file = (dir / "server.pem").string();
  tls.key_file = (dir / "server.key").string();
  tls.trusted_ca_file = (dir / "ca.pem").string();
  auto cluster = etcd_test::EtcdCluster::Start(tls, &error);
  ASSERT_NE(cluster, nullptr) << error;

  EtcdOptions options = As(*cluster, "", "");
  options.ca_file = (dir / "ca.pem").string();
  options.cert_file = (dir / "client.pem").string();
  options.key_file = (dir / "client.key").string();
  auto store = ConnectEtcdStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  const Status set = (*store)->Set("k", "v");
  ASSERT_TRUE(set.ok()) << set;
  EXPECT_EQ(*(*store)->Get("k", std::chrono::seconds(5)), "v");

  // Without a client certificate the cluster does not let the connection in.
  options.cert_file.clear();
  options.key_file.clear();
  options.request_timeout = std::chrono::seconds(2);
  const Status refused = (*ConnectEtcdStore(options))->Set("k", "v");
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  cluster.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace train
