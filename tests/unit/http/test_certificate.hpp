// Certificates for the TLS tests, made in-process with OpenSSL so that the
// tests need no files and no openssl command: a self-signed P-256 certificate
// for localhost and 127.0.0.1, written as PEM files into a temporary folder
// that is removed with the object.
//
// Not thread-safe.
#pragma once

#include <filesystem>
#include <string>

namespace errand::http::testing {

class TestCertificate {
 public:
  TestCertificate();  // throws std::runtime_error when OpenSSL fails
  ~TestCertificate();
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;

  std::string cert_file() const { return (dir_ / "cert.pem").string(); }
  std::string key_file() const { return (dir_ / "key.pem").string(); }
  // The key of another certificate: it does not match cert_file().
  std::string other_key_file() const { return (dir_ / "other-key.pem").string(); }
  std::string cert_pem() const { return cert_pem_; }
  // Writes `text` into a file of the folder and returns its path.
  std::string write_file(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path dir_;
  std::string cert_pem_;
};

}  // namespace errand::http::testing
