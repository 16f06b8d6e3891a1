-- libcrypto through LuaJIT's FFI, for the emulator's own hashing and signature checks (it must not
-- lean on the SDK's C core, whose output it judges). Returns the namespace to call.
local ffi = require "ffi"

for _, decl in ipairs({
  "typedef struct bio_st BIO;",
  "typedef struct evp_pkey_st EVP_PKEY;",
  "typedef struct evp_md_ctx_st EVP_MD_CTX;",
  "typedef struct evp_md_st EVP_MD;",
  "typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;",
  "typedef struct engine_st ENGINE;",
  "BIO *BIO_new_mem_buf(const void *buf, int len);",
  "int BIO_free(BIO *a);",
  "EVP_PKEY *PEM_read_bio_PUBKEY(BIO *bp, EVP_PKEY **x, void *cb, void *u);",
  "void EVP_PKEY_free(EVP_PKEY *pkey);",
  "int EVP_PKEY_get_base_id(const EVP_PKEY *pkey);",
  "EVP_MD_CTX *EVP_MD_CTX_new(void);",
  "void EVP_MD_CTX_free(EVP_MD_CTX *ctx);",
  "const EVP_MD *EVP_sha256(void);",
  "const EVP_MD *EVP_md5(void);",
  "int EVP_DigestVerifyInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e, EVP_PKEY *pkey);",
  "int EVP_DigestVerifyUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt);",
  "int EVP_DigestVerifyFinal(EVP_MD_CTX *ctx, const void *sig, size_t siglen);",
  "int EVP_Digest(const void *data, size_t count, void *md, unsigned int *size, const EVP_MD *type, ENGINE *impl);",
  "int RAND_bytes(void *buf, int num);",
  "void ERR_clear_error(void);",
}) do
  pcall(ffi.cdef, decl) -- a declaration another module made already is fine
end

-- The nginx binary already links libcrypto; fall back to loading it by name.
local C = ffi.C
if not pcall(function() return C.EVP_DigestVerifyFinal end) then
  local ok, lib = pcall(ffi.load, "crypto")
  if not ok then lib = ffi.load("libcrypto.so.3") end
  C = lib
end

return C
