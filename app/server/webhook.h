/* webhook.h - outbound notifications: a signed HTTP POST to a URL the user gave when a job or
 * batch finishes or fails.
 *
 * A webhook URL is user input that makes the server open a connection, so it is checked
 * twice: when it is given (srv_webhook_check: http or https only, no credentials, and every
 * address its host resolves to public unless the operator allows private ones) and again
 * before each delivery, whose connection then goes to the address that was just checked (no
 * second DNS lookup between the check and the connect, which a rebinding name could exploit).
 *
 * Thread-safe: no shared state; srv_webhook_global_init once before any thread sends.
 * Ownership: every function writes into caller-owned structs and buffers. */
#ifndef DUMU_SERVER_WEBHOOK_H
#define DUMU_SERVER_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest accepted URL: 2048 bytes, what browsers and proxies reliably carry. */
#define SRV_WEBHOOK_URL_MAX 2048
/* Attempts per delivery (see srv_webhook_retry_delay_s for the spacing). */
#define SRV_WEBHOOK_ATTEMPTS 6
/* "t=<unix seconds>,v1=<64 hex digits>" and its NUL. */
#define SRV_WEBHOOK_SIG_MAX 96
/* Signing key length in bytes (HMAC-SHA256 takes any; 32 is its own block of strength). */
#define SRV_WEBHOOK_KEY_BYTES 32

/* A checked URL and the address to connect to. */
typedef struct srv_webhook_target {
    bool https;
    char host[256];                /* as written (IPv6 without brackets), lower-cased */
    uint16_t port;                 /* 80 or 443 unless written */
    char addr[64];                 /* the checked address, numeric */
    struct sockaddr_storage sa;    /* the same, for tests and logs */
    char url[SRV_WEBHOOK_URL_MAX]; /* the URL as given */
} srv_webhook_target;

/* Where an address may not be reached from a webhook. */
typedef enum srv_addr_class {
    SRV_ADDR_PUBLIC = 0,
    SRV_ADDR_PRIVATE,   /* loopback, RFC 1918, CGNAT, link-local, ULA, documentation, ... */
    SRV_ADDR_FORBIDDEN, /* unspecified, multicast, broadcast, reserved: never */
} srv_addr_class;

/* Classifies an IPv4 or IPv6 socket address (IPv4-mapped and NAT64 IPv6 by their IPv4). */
srv_addr_class srv_webhook_addr_class(const struct sockaddr *sa);

/* Parses `url` and resolves its host. Returns 0 and fills *t, or -1 with a sentence in `why`
 * (for the API's 400 answer) when the URL is malformed, not http(s), carries user:password,
 * names no host, or resolves to an address that is forbidden, or private while
 * allow_private is false (every address of the name is checked: one private answer among
 * public ones refuses the URL). */
int srv_webhook_check(const char *url, bool allow_private, srv_webhook_target *t, char *why,
                      size_t why_len);

/* out = "t=<timestamp>,v1=<hex HMAC-SHA256(key, "<timestamp>." + body)>": the receiver
 * recomputes it with the shared key and refuses old timestamps (replays). */
void srv_webhook_sign(const uint8_t key[SRV_WEBHOOK_KEY_BYTES], int64_t timestamp, const char *body,
                      size_t body_len, char out[SRV_WEBHOOK_SIG_MAX]);

/* A fresh signing secret: SRV_WEBHOOK_KEY_BYTES random bytes as lowercase hex, given to the
 * uploader with its job or batch; the key of srv_webhook_sign is those bytes (hex-decoded). */
void srv_webhook_new_secret(char out[2 * SRV_WEBHOOK_KEY_BYTES + 1]);

/* One delivery attempt's outcome. */
typedef struct srv_webhook_result {
    long http_status; /* 0 when no answer came */
    double seconds;   /* wall time of the attempt */
    bool delivered;   /* a 2xx answer */
    bool retry;       /* worth another attempt: no answer, 408, 429 or 5xx */
    char error[256];  /* why not delivered; empty when delivered */
} srv_webhook_result;

/* curl_global_init; call once at start-up, before threads. Returns 0 or -1. */
int srv_webhook_global_init(void);

/* POSTs `body` (JSON) to t->url, connecting to t->addr only, with the headers Content-Type,
 * User-Agent, Dumu-Event: `event`, Dumu-Delivery: `delivery_id` and Dumu-Signature:
 * `signature`. No redirects are followed, no proxy from the environment is used; connect
 * timeout 5 s, whole attempt 10 s; the answer's body is read and dropped. */
void srv_webhook_post(const srv_webhook_target *t, const char *event, const char *delivery_id,
                      const char *signature, const char *body, size_t body_len,
                      srv_webhook_result *res);

/* Seconds to wait before attempt `attempt` (1 .. SRV_WEBHOOK_ATTEMPTS - 1) after the one
 * before it failed; -1 past the last attempt. */
int64_t srv_webhook_retry_delay_s(int attempt);

#endif /* DUMU_SERVER_WEBHOOK_H */
