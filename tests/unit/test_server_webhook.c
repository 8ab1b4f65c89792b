/* The webhooks of `dumu serve` (app/server/webhook.c, compiled in directly, with the job
 * store in a temporary folder): address classes, URL checks, the signature, real calls to a
 * receiver on loopback, the deliveries a job's or batch's end adds, and the sender thread
 * delivering, retrying and refusing them. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../app/server/webhook.c"

static srv_addr_class class_of(const char *text) {
    struct sockaddr_storage ss = {0};
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return srv_webhook_addr_class((struct sockaddr *)&ss);
}

static void test_address_classes(void **state) {
    (void)state;

    static const struct {
        const char *addr;
        srv_addr_class want;
    } cases[] = {
        {"93.184.215.14", SRV_ADDR_PUBLIC},
        {"8.8.8.8", SRV_ADDR_PUBLIC},
        {"127.0.0.1", SRV_ADDR_PRIVATE},
        {"127.255.0.9", SRV_ADDR_PRIVATE},
        {"10.1.2.3", SRV_ADDR_PRIVATE},
        {"172.16.0.1", SRV_ADDR_PRIVATE},
        {"172.31.255.255", SRV_ADDR_PRIVATE},
        {"172.32.0.1", SRV_ADDR_PUBLIC},
        {"192.168.1.1", SRV_ADDR_PRIVATE},
        {"100.64.0.1", SRV_ADDR_PRIVATE},
        {"100.128.0.1", SRV_ADDR_PUBLIC},
        {"169.254.169.254", SRV_ADDR_PRIVATE},
        {"192.0.2.7", SRV_ADDR_PRIVATE},
        {"198.18.0.1", SRV_ADDR_PRIVATE},
        {"0.0.0.0", SRV_ADDR_FORBIDDEN},
        {"224.0.0.1", SRV_ADDR_FORBIDDEN},
        {"255.255.255.255", SRV_ADDR_FORBIDDEN},
        {"2606:4700::1111", SRV_ADDR_PUBLIC},
        {"::1", SRV_ADDR_PRIVATE},
        {"::", SRV_ADDR_FORBIDDEN},
        {"::ffff:127.0.0.1", SRV_ADDR_PRIVATE},
        {"::ffff:8.8.8.8", SRV_ADDR_PUBLIC},
        {"64:ff9b::10.0.0.1", SRV_ADDR_PRIVATE},
        {"2002:0a00:0001::1", SRV_ADDR_PRIVATE},
        {"fe80::1", SRV_ADDR_PRIVATE},
        {"fd12:3456::1", SRV_ADDR_PRIVATE},
        {"fc00::1", SRV_ADDR_PRIVATE},
        {"ff02::1", SRV_ADDR_FORBIDDEN},
        {"2001:db8::1", SRV_ADDR_PRIVATE},
        {"::7f00:1", SRV_ADDR_FORBIDDEN},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_addr_class got = class_of(cases[i].addr);
        if (got != cases[i].want)
            fail_msg("%s: class %d, want %d", cases[i].addr, got, cases[i].want);
    }
}

static void test_url_checks(void **state) {
    (void)state;
    srv_webhook_target t;
    char why[256];
    static const char *bad[] = {
        "",
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "http://user:pw@127.0.0.1/",
        "http:///path",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:/",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/#frag",
        "http://[::1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://no-such-host.invalid/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (srv_webhook_check(bad[i], true, &t, why, sizeof why) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_true(why[0] != '\0');
    }
    /* loopback, private and link-local only when the operator allows them */
    static const char *private_urls[] = {
        "http://127.0.0.1:8080/hook",    "http://localhost/x", "http://[::1]:9/",
        "http://169.254.169.254/latest", "http://10.0.0.1/",   "HTTP://LocalHost:81/Path?q=1"};
    for (size_t i = 0; i < sizeof private_urls / sizeof private_urls[0]; i++) {
        assert_int_equal(srv_webhook_check(private_urls[i], false, &t, why, sizeof why), -1);
        assert_non_null(strstr(why, "--webhook-allow-private"));
        assert_int_equal(srv_webhook_check(private_urls[i], true, &t, why, sizeof why), 0);
    }
    assert_int_equal(srv_webhook_check("HTTP://LocalHost:81/Path?q=1", true, &t, why, sizeof why),
                     0);
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.port, 81);
    assert_false(t.https);
    assert_string_equal(t.url, "http://localhost:81/Path?q=1");
    assert_int_equal(srv_webhook_check("https://[::1]", true, &t, why, sizeof why), 0);
    assert_true(t.https);
    assert_int_equal(t.port, 443);
    assert_string_equal(t.addr, "::1");
    assert_string_equal(t.url, "https://[::1]:443/");
    char long_url[SRV_WEBHOOK_URL_MAX + 16];
    memset(long_url, 'a', sizeof long_url - 1);
    long_url[sizeof long_url - 1] = '\0';
    memcpy(long_url, "http://127.0.0.1/", 17);
    assert_int_equal(srv_webhook_check(long_url, true, &t, why, sizeof why), -1);
}

static void test_signature(void **state) {
    (void)state;
    /* HMAC-SHA256 keyed with the secret's hex text over "<t>." + body, from Python's hmac:
     * hmac.new(bytes(range(32)).hex().encode(), b'1765000000.{"event":"job.done"}', 'sha256') */
    const char *secret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const char *body = "{\"event\":\"job.done\"}";
    char sig[SRV_WEBHOOK_SIG_MAX];
    srv_webhook_sign(secret, 1765000000, body, strlen(body), sig);
    assert_string_equal(sig, "t=1765000000,v1="
                             "99da8d1127e563b4550087cda02cdb49bcef48f5d15545276d19bc7946216ac0");
    /* fresh secrets: 64 lowercase hex digits, never the same twice */
    char a[SRV_HASH_LEN], b[SRV_HASH_LEN];
    srv_webhook_new_secret(a);
    srv_webhook_new_secret(b);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strspn(a, "0123456789abcdef"), 64);
    assert_string_not_equal(a, b);
}

/* ---- a receiver on loopback ---------------------------------------------------------- */

typedef struct receiver {
    int fd, port, status; /* listening socket, its port, the answer's status */
    char request[8192];   /* what arrived */
    size_t got;
} receiver;

static void *receive_one(void *arg) {
    receiver *r = arg;
    int c = accept(r->fd, NULL, NULL);
    if (c < 0) return NULL;
    for (;;) { /* headers, then Content-Length bytes */
        ssize_t n = read(c, r->request + r->got, sizeof r->request - 1 - r->got);
        if (n <= 0) break;
        r->got += (size_t)n;
        r->request[r->got] = '\0';
        const char *end = strstr(r->request, "\r\n\r\n"),
                   *cl = strstr(r->request, "Content-Length: ");
        if (end && cl && r->got >= (size_t)(end + 4 - r->request) + (size_t)atoi(cl + 16)) break;
    }
    char answer[128];
    int n =
        snprintf(answer, sizeof answer, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok", r->status);
    (void)!write(c, answer, (size_t)n);
    close(c);
    return NULL;
}

static void start_receiver(receiver *r, int status, pthread_t *th) {
    memset(r, 0, sizeof *r);
    r->status = status;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->fd, 1), 0);
    socklen_t len = sizeof a;
    getsockname(r->fd, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(th, NULL, receive_one, r), 0);
}

static void test_delivery(void **state) {
    (void)state;
    assert_int_equal(srv_webhook_global_init(), 0);
    const char *body = "{\"job_id\":\"abc\",\"status\":\"done\"}";
    char url[128], why[256], sig[SRV_WEBHOOK_SIG_MAX];
    srv_webhook_sign("a secret", 1765000001, body, strlen(body), sig);

    static const struct {
        int status;
        bool delivered, retry;
    } answers[] = {{204, true, false}, {500, false, true}, {429, false, true}, {404, false, false}};

    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        receiver r;
        pthread_t th;
        start_receiver(&r, answers[i].status, &th);
        /* by name: the connection goes to the address checked, through the pin */
        snprintf(url, sizeof url, "http://localhost:%d/hooks/dumu?x=1", r.port);
        srv_webhook_target t;
        assert_int_equal(srv_webhook_check(url, true, &t, why, sizeof why), 0);
        srv_webhook_result res;
        srv_webhook_post(&t, "job.finished", "d-1", sig, body, strlen(body), NULL, &res);
        pthread_join(th, NULL);
        close(r.fd);
        assert_int_equal(res.http_status, answers[i].status);
        assert_int_equal(res.delivered, answers[i].delivered);
        assert_int_equal(res.retry, answers[i].retry);
        assert_non_null(strstr(r.request, "POST /hooks/dumu?x=1 HTTP/1.1\r\n"));
        assert_non_null(strstr(r.request, "Dumu-Event: job.finished\r\n"));
        assert_non_null(strstr(r.request, "Dumu-Delivery: d-1\r\n"));
        char line[160];
        snprintf(line, sizeof line, "Dumu-Signature: %s\r\n", sig);
        assert_non_null(strstr(r.request, line));
        assert_non_null(strstr(r.request, "Content-Type: application/json\r\n"));
        assert_non_null(strstr(r.request, body));
    }
    /* nobody listening: no answer, worth retrying */
    receiver r;
    pthread_t th;
    start_receiver(&r, 200, &th);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", r.port);
    srv_webhook_target t;
    assert_int_equal(srv_webhook_check(url, true, &t, why, sizeof why), 0);
    shutdown(r.fd, SHUT_RDWR);
    close(r.fd);
    pthread_join(th, NULL);
    srv_webhook_result res;
    srv_webhook_post(&t, "job.failed", "d-2", sig, body, strlen(body), NULL, &res);
    assert_false(res.delivered);
    assert_true(res.retry);
    assert_int_equal(res.http_status, 0);
    assert_true(res.error[0] != '\0');
}

static void test_retry_schedule(void **state) {
    (void)state;
    assert_int_equal(srv_webhook_retry_delay_s(0), -1);
    int64_t last = 0;
    for (int a = 1; a < SRV_WEBHOOK_ATTEMPTS; a++) {
        assert_true(srv_webhook_retry_delay_s(a) > last);
        last = srv_webhook_retry_delay_s(a);
    }
    assert_int_equal(srv_webhook_retry_delay_s(SRV_WEBHOOK_ATTEMPTS), -1);
}

/* ---- deliveries in a job store ------------------------------------------------------- */

typedef struct store {
    char dir[64];
    srv_jobs *jobs;
} store;

static int store_open(void **state) {
    store *st = calloc(1, sizeof *st);
    snprintf(st->dir, sizeof st->dir, "/tmp/dumu-webhook-XXXXXX");
    assert_non_null(mkdtemp(st->dir));
    assert_int_equal(srv_jobs_open(st->dir, NULL, &st->jobs), 0);
    assert_int_equal(srv_webhook_global_init(), 0);
    *state = st;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int store_close(void **state) {
    store *st = *state;
    srv_jobs_close(st->jobs);
    nftw(st->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(st);
    return 0;
}

/* A queued job made `age` seconds ago, with webhook `url` ("" for none), in batch `batch`. */
static void add_job(srv_jobs *jobs, const char *id, const char *url, const char *batch, int age) {
    struct srv_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.id, sizeof j.id, "%s", id);
    j.params = srv_params_default();
    snprintf(j.name, sizeof j.name, "song");
    snprintf(j.title, sizeof j.title, "song.flac");
    snprintf(j.message, sizeof j.message, "waiting for a worker");
    j.created = (int64_t)time(NULL) - age;
    j.duration = 3.0;
    snprintf(j.batch_id, sizeof j.batch_id, "%s", batch);
    snprintf(j.webhook_url, sizeof j.webhook_url, "%s", url);
    if (url[0]) srv_webhook_new_secret(j.webhook_secret);
    assert_int_equal(srv_jobs_insert(jobs, &j), 0);
}

/* Runs the next queued job to `state` as a worker does and tells of its end; its id in `id`. */
static void run_next(srv_jobs *jobs, enum srv_state state, struct srv_job *ended) {
    struct srv_job j;
    assert_int_equal(srv_jobs_claim(jobs, &j, 1000), 1);
    if (state == SRV_DONE)
        assert_int_equal(srv_jobs_finish(jobs, j.id, SRV_DONE, 120.0, "E minor", 3.0, NULL, NULL),
                         0);
    else
        assert_int_equal(srv_jobs_finish(jobs, j.id, SRV_FAILED, 0.0, NULL, 3.0, "decode",
                                         "the file is damaged"),
                         0);
    assert_int_equal(srv_jobs_get(jobs, j.id, ended), 1);
    srv_webhook_job_ended(jobs, ended);
}

static int count_deliveries(srv_jobs *jobs, const char *target) {
    struct srv_delivery d[SRV_WEBHOOK_EVENTS_MAX];
    return srv_jobs_delivery_list(jobs, target, d, SRV_WEBHOOK_EVENTS_MAX);
}

/* Claims the next due delivery and checks it is `event` about `target` with body `want`. */
static void claim_body(srv_jobs *jobs, const char *target, const char *event, cJSON *want) {
    struct srv_delivery d;
    char *body = NULL;
    assert_int_equal(srv_jobs_delivery_claim(jobs, (int64_t)time(NULL), 60, &d, &body), 1);
    assert_string_equal(d.target, target);
    assert_string_equal(d.event, event);
    cJSON *got = cJSON_Parse(body);
    if (!cJSON_Compare(got, want, true)) {
        char *text = cJSON_Print(want);
        fail_msg("body %s, want %s", body, text);
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
    free(body);
}

#define JOB_A "0a0a0a0a-0000-4000-8000-00000000000a"
#define JOB_B "0b0b0b0b-0000-4000-8000-00000000000b"
#define JOB_C "0c0c0c0c-0000-4000-8000-00000000000c"
#define BATCH "0d0d0d0d-0000-4000-8000-00000000000d"

static void test_job_deliveries(void **state) {
    srv_jobs *jobs = ((store *)*state)->jobs;
    /* a done job with a URL: one job.done, the job's document as the store has it */
    add_job(jobs, JOB_A, "https://hooks.example.org/dumu", "", 0);
    struct srv_job a;
    run_next(jobs, SRV_DONE, &a);
    assert_int_equal(count_deliveries(jobs, JOB_A), 1);
    srv_webhook_job_ended(jobs, &a); /* told twice (two nodes): still one */
    assert_int_equal(count_deliveries(jobs, JOB_A), 1);
    cJSON *want = cJSON_CreateObject();
    cJSON_AddStringToObject(want, "event", "job.done");
    cJSON_AddItemToObject(want, "job", srv_job_doc(&a));
    claim_body(jobs, JOB_A, "job.done", want);

    cJSON *doc = srv_webhook_doc(jobs, JOB_A, a.webhook_url);
    assert_string_equal(cJSON_GetObjectItem(doc, "url")->valuestring, a.webhook_url);
    cJSON *list = cJSON_GetObjectItem(doc, "deliveries");
    assert_int_equal(cJSON_GetArraySize(list), 1);
    cJSON *d = cJSON_GetArrayItem(list, 0);
    assert_string_equal(cJSON_GetObjectItem(d, "event")->valuestring, "job.done");
    assert_string_equal(cJSON_GetObjectItem(d, "state")->valuestring, "pending");
    assert_int_equal(cJSON_GetObjectItem(d, "attempts")->valueint, 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "last_status")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "last_error")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(d, "next_attempt")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(d, "id")));
    assert_true(cJSON_GetObjectItem(d, "created")->valuedouble > 0);
    assert_null(cJSON_GetObjectItem(d, "secret"));
    cJSON_Delete(doc);

    /* a failed one: job.failed with the error; one without a URL: nothing, no document */
    add_job(jobs, JOB_B, "http://hooks.example.org/b", "", 0);
    struct srv_job b;
    run_next(jobs, SRV_FAILED, &b);
    want = cJSON_CreateObject();
    cJSON_AddStringToObject(want, "event", "job.failed");
    cJSON_AddItemToObject(want, "job", srv_job_doc(&b));
    assert_string_equal(b.error_code, "decode");
    claim_body(jobs, JOB_B, "job.failed", want);
    add_job(jobs, JOB_C, "", "", 0);
    struct srv_job c;
    run_next(jobs, SRV_DONE, &c);
    assert_int_equal(count_deliveries(jobs, JOB_C), 0);
    assert_null(srv_webhook_doc(jobs, JOB_C, ""));
}

static void test_batch_deliveries(void **state) {
    srv_jobs *jobs = ((store *)*state)->jobs;
    struct srv_batch batch = {.id = BATCH,
                              .created = (int64_t)time(NULL) - 10,
                              .webhook_url = "https://hooks.example.org/batch"};
    srv_webhook_new_secret(batch.webhook_secret);
    assert_int_equal(srv_jobs_batch_insert(jobs, &batch), 0);
    /* oldest first: A, B, C; A has its own URL too, the others none */
    add_job(jobs, JOB_A, "https://hooks.example.org/a", BATCH, 3);
    add_job(jobs, JOB_B, "", BATCH, 2);
    add_job(jobs, JOB_C, "", BATCH, 1);
    struct srv_job ended[3];
    run_next(jobs, SRV_DONE, &ended[0]);
    run_next(jobs, SRV_FAILED, &ended[1]);
    assert_int_equal(count_deliveries(jobs, BATCH), 0); /* one still queued */
    /* the last one is deleted while queued: told as cancelled, its row already gone */
    struct srv_job last;
    assert_int_equal(srv_jobs_claim(jobs, &last, 1000), 1);
    srv_jobs_requeue(jobs, last.id);
    assert_int_equal(srv_jobs_get(jobs, last.id, &last), 1);
    enum srv_state was;
    assert_int_equal(srv_jobs_remove(jobs, last.id, &was), 1);
    last.state = SRV_CANCELLED;
    srv_webhook_job_ended(jobs, &last);
    assert_int_equal(count_deliveries(jobs, BATCH), 1);
    assert_int_equal(count_deliveries(jobs, last.id), 0); /* a cancelled job: no job event */
    srv_webhook_job_ended(jobs, &ended[0]);               /* an ended job told again: still one */
    assert_int_equal(count_deliveries(jobs, BATCH), 1);
    assert_int_equal(count_deliveries(jobs, JOB_A), 1);
    assert_int_equal(count_deliveries(jobs, JOB_B), 0);

    /* the body: the batch with its three jobs, oldest first */
    struct srv_job all[3];
    for (int i = 0; i < 2; i++)
        all[strcmp(ended[i].id, JOB_A) == 0 ? 0 : 1] = ended[i];
    all[2] = last;
    assert_string_equal(all[0].id, JOB_A);
    assert_string_equal(all[1].id, JOB_B);
    assert_string_equal(all[2].id, JOB_C);
    /* A's own delivery is older and due first */
    struct srv_delivery d;
    char *body = NULL;
    assert_int_equal(srv_jobs_delivery_claim(jobs, (int64_t)time(NULL), 60, &d, &body), 1);
    assert_string_equal(d.target, JOB_A);
    free(body);
    cJSON *want = cJSON_CreateObject();
    cJSON_AddStringToObject(want, "event", "batch.done");
    cJSON_AddItemToObject(want, "batch", srv_batch_doc(&batch, all, 3, NULL));
    cJSON *counts = cJSON_GetObjectItem(cJSON_GetObjectItem(want, "batch"), "counts");
    assert_int_equal(cJSON_GetObjectItem(counts, "done")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(counts, "failed")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(counts, "cancelled")->valueint, 1);
    claim_body(jobs, BATCH, "batch.done", want);
}

/* ---- the sender thread ------------------------------------------------------------- */

/* A pending delivery of job.done about JOB_A to `url`, its secret in `secret`; its id. */
static int64_t add_pending(srv_jobs *jobs, const char *url, const char *body,
                           char secret[SRV_HASH_LEN]) {
    struct srv_delivery d;
    memset(&d, 0, sizeof d);
    snprintf(d.target, sizeof d.target, JOB_A);
    snprintf(d.event, sizeof d.event, "job.done");
    snprintf(d.url, sizeof d.url, "%s", url);
    srv_webhook_new_secret(secret);
    snprintf(d.secret, sizeof d.secret, "%s", secret);
    assert_int_equal(srv_jobs_delivery_add(jobs, &d, body, (int64_t)time(NULL)), 0);
    struct srv_delivery got;
    assert_int_equal(srv_jobs_delivery_list(jobs, JOB_A, &got, 1), 1);
    return got.id;
}

/* Runs a sender until JOB_A's delivery has had an attempt (10 s at most); it in *d. */
static void send_until_tried(srv_jobs *jobs, bool allow_private, struct srv_delivery *d) {
    srv_webhook_sender *sender = NULL;
    assert_int_equal(srv_webhook_sender_start(jobs, allow_private, &sender), 0);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(srv_jobs_delivery_list(jobs, JOB_A, d, 1), 1);
        if (d->attempts > 0) break;
        nanosleep(&(struct timespec){0, 50000000}, NULL); /* 50 ms */
    }
    double t0 = wall_s();
    srv_webhook_sender_stop(sender);
    assert_true(wall_s() - t0 < 2.0); /* idle: it stops within its second of waiting */
    assert_int_equal(d->attempts, 1);
}

static const char *header_value(const char *request, const char *name, char *out, size_t cap) {
    const char *p = strstr(request, name);
    assert_non_null(p);
    p += strlen(name);
    size_t n = strcspn(p, "\r");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static void test_sender(void **state) {
    srv_jobs *jobs = ((store *)*state)->jobs;
    const char *body = "{\"event\":\"job.done\",\"job\":{\"job_id\":\"" JOB_A "\"}}";
    char url[128], secret[SRV_HASH_LEN];
    receiver r;
    pthread_t th;
    start_receiver(&r, 204, &th);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    int64_t id = add_pending(jobs, url, body, secret);
    struct srv_delivery d;
    send_until_tried(jobs, true, &d);
    pthread_join(th, NULL);
    close(r.fd);
    assert_int_equal(d.state, SRV_DELIVERY_DELIVERED);
    assert_int_equal(d.last_status, 204);
    assert_string_equal(d.last_error, "");
    /* what arrived: the body as stored, its event and delivery id, a signature that the
     * secret's text verifies over "<t>." + body, made just now */
    assert_non_null(strstr(r.request, "POST /hook HTTP/1.1\r\n"));
    assert_non_null(strstr(r.request, "Dumu-Event: job.done\r\n"));
    char line[128], sig[SRV_WEBHOOK_SIG_MAX];
    assert_int_equal(atoll(header_value(r.request, "Dumu-Delivery: ", line, sizeof line)), id);
    header_value(r.request, "Dumu-Signature: ", line, sizeof line);
    assert_string_equal(strstr(r.request, "\r\n\r\n") + 4, body);
    long long t = atoll(line + 2);
    assert_true(llabs(t - (long long)time(NULL)) <= 5);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char message[256], hex[2 * sizeof mac + 1];
    int n = snprintf(message, sizeof message, "%lld.%s", t, body);
    crypto_auth_hmacsha256_state hs;
    crypto_auth_hmacsha256_init(&hs, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&hs, (const unsigned char *)message, (unsigned long long)n);
    crypto_auth_hmacsha256_final(&hs, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(sig, sizeof sig, "t=%lld,v1=%s", t, hex);
    assert_string_equal(line, sig);
    cJSON *doc = srv_webhook_doc(jobs, JOB_A, url);
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "deliveries"), 0);
    assert_string_equal(cJSON_GetObjectItem(e, "state")->valuestring, "delivered");
    assert_int_equal(cJSON_GetObjectItem(e, "last_status")->valueint, 204);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "next_attempt")));
    cJSON_Delete(doc);
}

static void test_sender_retry(void **state) {
    srv_jobs *jobs = ((store *)*state)->jobs;
    char url[128], secret[SRV_HASH_LEN];
    receiver r;
    pthread_t th;
    start_receiver(&r, 500, &th);
    snprintf(url, sizeof url, "http://localhost:%d/hook", r.port);
    add_pending(jobs, url, "{}", secret);
    struct srv_delivery d;
    send_until_tried(jobs, true, &d);
    pthread_join(th, NULL);
    close(r.fd);
    assert_int_equal(d.state, SRV_DELIVERY_PENDING);
    assert_int_equal(d.last_status, 500);
    assert_non_null(strstr(d.last_error, "500"));
    assert_int_equal(d.next_at, d.updated + srv_webhook_retry_delay_s(1));
    cJSON *doc = srv_webhook_doc(jobs, JOB_A, url);
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "deliveries"), 0);
    assert_string_equal(cJSON_GetObjectItem(e, "state")->valuestring, "pending");
    assert_int_equal(cJSON_GetObjectItem(e, "next_attempt")->valuedouble, (double)d.next_at);
    assert_non_null(strstr(cJSON_GetObjectItem(e, "last_error")->valuestring, "HTTP 500"));
    cJSON_Delete(doc);
}

static void test_sender_refuses_private(void **state) {
    srv_jobs *jobs = ((store *)*state)->jobs;
    char url[128], secret[SRV_HASH_LEN];
    receiver r;
    pthread_t th;
    start_receiver(&r, 204, &th);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    add_pending(jobs, url, "{}", secret);
    struct srv_delivery d;
    send_until_tried(jobs, false, &d); /* the operator did not allow private addresses */
    shutdown(r.fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(r.fd);
    assert_int_equal(r.got, 0); /* never contacted */
    assert_int_equal(d.state, SRV_DELIVERY_FAILED);
    assert_int_equal(d.last_status, 0);
    assert_non_null(strstr(d.last_error, "loopback, private or link-local"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_classes),
        cmocka_unit_test(test_url_checks),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_delivery),
        cmocka_unit_test(test_retry_schedule),
        cmocka_unit_test_setup_teardown(test_job_deliveries, store_open, store_close),
        cmocka_unit_test_setup_teardown(test_batch_deliveries, store_open, store_close),
        cmocka_unit_test_setup_teardown(test_sender, store_open, store_close),
        cmocka_unit_test_setup_teardown(test_sender_retry, store_open, store_close),
        cmocka_unit_test_setup_teardown(test_sender_refuses_private, store_open, store_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
