/* webhook.h - outbound notifications: a signed HTTP POST to a URL the user gave when a job or
 * batch finishes or fails.
 *
 * A job's end adds a delivery to the store (srv_webhook_job_ended, from the worker or the
 * deletion); the sender thread of each `dumu serve` process claims due deliveries from the
 * store, so any node of a fleet may make the call, and records each attempt there, retrying
 * on the schedule of srv_webhook_retry_delay_s.
 *
 * A webhook URL is user input that makes the server open a connection, so it is checked
 * twice: when it is given (srv_webhook_check: http or https only, no credentials, and every
 * address its host resolves to public unless the operator allows private ones) and again
 * before each delivery, whose connection then goes to the address that was just checked (no
 * second DNS lookup between the check and the connect, which a rebinding name could exploit).
 *
 * What a receiver gets (README "Webhooks"): POST with a JSON body {"event": "job.done" |
 * "job.failed", "job": srv_job_doc} or {"event": "batch.done", "batch": srv_batch_doc}, and
 * the headers Dumu-Event (the event), Dumu-Delivery (the delivery's id, the same on every
 * retry: receivers drop repeats by it) and Dumu-Signature "t=<unix seconds>,v1=<hex>", where
 * hex is HMAC-SHA256 keyed with the secret string as the uploader got it (its 64 ASCII
 * characters, not the 32 bytes they spell) over "<t>." followed by the body's bytes.
 *
 * Thread-safe: no shared state but the sender's own; srv_webhook_global_init once before any
 * thread starts. Ownership: every function writes into caller-owned structs and buffers. */
#ifndef DUMU_SERVER_WEBHOOK_H
#define DUMU_SERVER_WEBHOOK_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "jobs.h"

/* Longest accepted URL: 2048 bytes, what browsers and proxies reliably carry. */
#define SRV_WEBHOOK_URL_MAX 2048
/* Attempts per delivery (see srv_webhook_retry_delay_s for the spacing). */
#define SRV_WEBHOOK_ATTEMPTS 6
/* "t=<unix seconds>,v1=<64 hex digits>" and its NUL. */
#define SRV_WEBHOOK_SIG_MAX 96
/* Random bytes in a signing secret: 256 bits, SHA-256's own strength, beyond guessing. */
#define SRV_WEBHOOK_KEY_BYTES 32
/* Seconds a claimed delivery stays with the node calling it: an attempt takes at most 10 s
 * (srv_webhook_post) plus the DNS lookup, so a minute is ample, yet a call a dying node left
 * unrecorded is made again by another a minute later. */
#define SRV_WEBHOOK_LEASE_S 60
/* Deliveries one target has at most: job.failed, then job.done after the job was retried
 * (jobs.h srv_jobs_retry), or one batch.done; twice that for room. */
#define SRV_WEBHOOK_EVENTS_MAX 4

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

/* out = "t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>", the key being
 * the bytes of the string `secret` as given (srv_webhook_new_secret's hex text): the receiver
 * recomputes it with the secret it was given and refuses old timestamps (replays). */
void srv_webhook_sign(const char *secret, int64_t timestamp, const char *body, size_t body_len,
                      char out[SRV_WEBHOOK_SIG_MAX]);

/* A fresh signing secret: SRV_WEBHOOK_KEY_BYTES random bytes as 64 lowercase hex digits
 * (after srv_webhook_global_init). The uploader gets it once, in the answer that accepts the
 * URL; it is stored with the job or batch and signs each of their deliveries. */
void srv_webhook_new_secret(char out[SRV_HASH_LEN]);

/* One delivery attempt's outcome. */
typedef struct srv_webhook_result {
    long http_status; /* 0 when no answer came */
    double seconds;   /* wall time of the attempt */
    bool delivered;   /* a 2xx answer */
    bool retry;       /* worth another attempt: no answer, 408, 429 or 5xx */
    char error[256];  /* why not delivered; empty when delivered */
} srv_webhook_result;

/* curl_global_init and sodium_init; call once at start-up, before threads. 0 or -1. */
int srv_webhook_global_init(void);

/* POSTs `body` (JSON) to t->url, connecting to t->addr only, with the headers Content-Type,
 * User-Agent, Dumu-Event: `event`, Dumu-Delivery: `delivery_id` and Dumu-Signature:
 * `signature`. No redirects are followed, no proxy from the environment is used; connect
 * timeout 5 s, whole attempt 10 s; the answer's body is read and dropped. A non-zero
 * *stop (when `stop` is not NULL) ends the attempt within about a second, undelivered. */
void srv_webhook_post(const srv_webhook_target *t, const char *event, const char *delivery_id,
                      const char *signature, const char *body, size_t body_len,
                      const atomic_int *stop, srv_webhook_result *res);

/* Seconds to wait before attempt `attempt` (1 .. SRV_WEBHOOK_ATTEMPTS - 1) after the one
 * before it failed; -1 past the last attempt. */
int64_t srv_webhook_retry_delay_s(int attempt);

/* A job that just ended: SRV_DONE or SRV_FAILED as the store has it after srv_jobs_finish
 * (the worker), or SRV_CANCELLED as it was before its deletion (its row already gone). With
 * a webhook_url, a done or failed job gets a "job.done" or "job.failed" delivery; when it
 * belongs to a batch with a webhook_url and was the batch's last job to end, the batch gets
 * its one "batch.done" delivery (the store keeps one per target and event, so a job or batch
 * is told once even when two nodes see its end at once). upload.c also calls it with a
 * queued job of a batch just recorded, whose other jobs may all have ended before the batch
 * was. Errors are logged on stderr. */
void srv_webhook_job_ended(srv_jobs *jobs, const struct srv_job *job);

/* {"url": url, "deliveries": [{id, event, state ("pending", "delivered", "failed"),
 * attempts, last_status, last_error, created, updated, next_attempt}]} for the job or batch
 * `target`, oldest delivery first; last_status null when no answer came, last_error null
 * when there was none, next_attempt (unix seconds) null unless pending. The list is empty
 * when the store cannot be read. NULL when `url` is "" (the API then adds no "webhook"). */
cJSON *srv_webhook_doc(srv_jobs *jobs, const char *target, const char *url);

/* The sender: one thread per `dumu serve` process. It claims the store's due deliveries for
 * SRV_WEBHOOK_LEASE_S, checks each URL again (allow_private as the server was told; the
 * name may resolve elsewhere now), signs the body at send time and posts it, then records
 * the attempt: delivered on a 2xx answer; else retried after srv_webhook_retry_delay_s, or
 * failed when the tries are spent or retrying cannot help (the URL refused, an answer other
 * than 408, 429 or 5xx). Idle, it looks for due deliveries every second. */
typedef struct srv_webhook_sender srv_webhook_sender;

/* Starts the sender thread. 0 and *out, or -1 (said on stderr). */
int srv_webhook_sender_start(srv_jobs *jobs, bool allow_private, srv_webhook_sender **out);

/* Stops it within about a second (a call in flight is dropped unrecorded: its lease runs out
 * and it is made again) and frees it; before srv_jobs_close. NULL is fine. */
void srv_webhook_sender_stop(srv_webhook_sender *s);

#endif /* DUMU_SERVER_WEBHOOK_H */
