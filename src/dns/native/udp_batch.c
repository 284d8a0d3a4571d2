// udp-batch: a UDP socket read and written in batches (recvmmsg/sendmmsg), polled on Node's own
// event loop (uv_poll), handing each batch to JavaScript in one call.
//
// Memory: JavaScript allocates the slabs (ArrayBuffers) and passes them to open(); this file keeps
// a reference to each while the socket is open and never touches them after close. Per slot i:
//   in   [i * SLOT, +SLOT)   the datagram as received (SLOT = 65536 holds any UDP payload)
//   out  [i * SLOT, +SLOT)   the reply JavaScript wrote
//   meta [i * 4 + 0]         length received          (C writes)
//        [i * 4 + 1]         address family, 4 or 6   (C writes)
//        [i * 4 + 2]         reply length, 0 = none   (JavaScript writes; checked here)
//        [BATCH * 4]         replies dropped so far, mod 2^32 (C writes)
//   addr [i * 16, +16)       the client's address: 4 or 16 octets (C writes)
// Every length from the kernel or from JavaScript is checked against the slot before use.

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <node_api.h>
#include <uv.h>

#define BATCH 64
#define SLOT 65536
#define META 4
/** recvmmsg rounds per wakeup: at most ROUNDS * BATCH datagrams before timers, TCP and HTTP run. */
#define ROUNDS 8
#define CTRL 64

typedef struct {
  uv_poll_t poll;
  napi_env env;
  int fd;
  int family;
  int pktinfo; /* bound to a wildcard address: replies carry the query's destination address */
  int closing;
  int handle_closed;
  int finalized;
  int in_js; /* inside the batch call: a close from JavaScript is finished when it returns */
  napi_ref callback;
  napi_ref slabs[4];
  napi_async_context async;
  /* Closes the socket when the thread that owns it ends (a worker thread stopped or replaced):
   * its loop must hold no handle of ours by then, and the fd must leave the SO_REUSEPORT group. */
  napi_async_cleanup_hook_handle cleanup;
  uint8_t *in;
  uint8_t *out;
  int32_t *meta;
  uint8_t *addr;
  struct mmsghdr rmsg[BATCH];
  struct iovec riov[BATCH];
  struct sockaddr_storage peer[BATCH];
  _Alignas(struct cmsghdr) uint8_t rctrl[BATCH][CTRL];
  struct mmsghdr smsg[BATCH];
  struct iovec siov[BATCH];
  _Alignas(struct cmsghdr) uint8_t sctrl[BATCH][CTRL];
  double received, sent, dropped, batches;
} udp_socket;

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, "REGIONDNS_ERR_UDP_BATCH", #call " failed"); return NULL; } } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  /* The same codes node:dgram reports (EADDRINUSE, EACCES, ...), so callers handle both alike. */
  const char *name = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EAFNOSUPPORT ? "EAFNOSUPPORT" : "REGIONDNS_ERR_UDP_BATCH";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_value errnoValue;
  napi_create_int32(env, -err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_set_named_property(env, error, "syscall", text);
  napi_throw(env, error);
  return NULL;
}

static void release(udp_socket *s) {
  for (int i = 0; i < 4; i++) if (s->slabs[i]) { napi_delete_reference(s->env, s->slabs[i]); s->slabs[i] = NULL; }
  if (s->callback) { napi_delete_reference(s->env, s->callback); s->callback = NULL; }
  if (s->async) { napi_async_destroy(s->env, s->async); s->async = NULL; }
  s->in = s->out = s->addr = NULL;
  s->meta = NULL;
}

static void on_handle_closed(uv_handle_t *h) {
  udp_socket *s = (udp_socket *)h->data;
  close(s->fd); /* only once libuv no longer watches it */
  s->fd = -1;
  s->handle_closed = 1;
  if (s->cleanup) {
    napi_async_cleanup_hook_handle c = s->cleanup;
    s->cleanup = NULL;
    napi_remove_async_cleanup_hook(c); /* lets the thread's teardown go on, if it is waiting */
  }
  if (s->finalized) free(s);
}

static void finish_close(udp_socket *s) {
  release(s);
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void start_close(udp_socket *s) {
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  if (!s->in_js) finish_close(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  udp_socket *s = (udp_socket *)data;
  s->finalized = 1;
  if (!s->closing) start_close(s); /* JavaScript lost the socket without closing it */
  else if (s->handle_closed) free(s);
}

/* The thread is ending with the socket open: close it; teardown waits until the handle is closed. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  start_close((udp_socket *)arg);
}

/* One control message into slot i's send buffer; returns the space it takes. */
static socklen_t put_cmsg(udp_socket *s, int i, int level, int type, const void *data, size_t len) {
  struct cmsghdr *o = (struct cmsghdr *)s->sctrl[i];
  o->cmsg_level = level;
  o->cmsg_type = type;
  o->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(o), data, len);
  return CMSG_SPACE(len);
}

/* The destination address of a query (IP_PKTINFO / IPV6_PKTINFO), as the source of its reply. */
static socklen_t reply_control(udp_socket *s, int i) {
  struct msghdr *rh = &s->rmsg[i].msg_hdr;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(rh); c; c = CMSG_NXTHDR(rh, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
      struct in_pktinfo got, put;
      memcpy(&got, CMSG_DATA(c), sizeof got);
      memset(&put, 0, sizeof put);
      put.ipi_spec_dst = got.ipi_addr; /* ifindex 0: the routing table picks the interface */
      return put_cmsg(s, i, IPPROTO_IP, IP_PKTINFO, &put, sizeof put);
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
      struct in6_pktinfo got; /* address and interface: link-local needs both */
      memcpy(&got, CMSG_DATA(c), sizeof got);
      return put_cmsg(s, i, IPPROTO_IPV6, IPV6_PKTINFO, &got, sizeof got);
    }
  }
  return 0;
}

/* sendmmsg of every reply JavaScript wrote. A reply the kernel will not take now is dropped and
 * counted: waiting would stall every other client (a DNS client retries). */
static void send_replies(udp_socket *s, int n) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = s->meta[i * META + 2];
    if (len <= 0 || len > SLOT) continue; /* no reply, or a length no slot holds */
    struct msghdr *h = &s->smsg[k].msg_hdr;
    s->siov[k].iov_base = s->out + (size_t)i * SLOT;
    s->siov[k].iov_len = (size_t)len;
    h->msg_name = &s->peer[i];
    h->msg_namelen = s->rmsg[i].msg_hdr.msg_namelen;
    h->msg_iov = &s->siov[k];
    h->msg_iovlen = 1;
    h->msg_flags = 0;
    socklen_t cl = s->pktinfo ? reply_control(s, i) : 0;
    /* sctrl is indexed by the received slot, smsg by the reply: point at the slot's control. */
    h->msg_control = cl ? s->sctrl[i] : NULL;
    h->msg_controllen = cl;
    k++;
  }
  int at = 0;
  while (at < k) {
    int r = sendmmsg(s->fd, &s->smsg[at], (unsigned)(k - at), MSG_DONTWAIT);
    if (r > 0) { at += r; s->sent += r; continue; }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      s->dropped += k - at; /* the send buffer is full: the rest of this batch is dropped */
      break;
    }
    s->dropped += 1; /* this destination was refused (unreachable, bad address): skip it */
    at += 1;
  }
  s->meta[BATCH * META] = (int32_t)(uint32_t)(uint64_t)s->dropped;
}

static void call_js(udp_socket *s, int n) {
  napi_env env = s->env;
  int was_closing = s->closing;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  if (napi_get_reference_value(env, s->callback, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
    napi_create_int32(env, n, &arg);
    s->in_js = 1;
    napi_status st = napi_make_callback(env, s->async, recv, cb, 1, &arg, &result);
    if (st == napi_pending_exception) {
      /* The handler catches per query; anything else is a bug: surface it as Node would. */
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    s->in_js = 0;
  }
  napi_close_handle_scope(env, scope);
  if (s->closing && !was_closing) finish_close(s); /* closed by JavaScript during the call */
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  udp_socket *s = (udp_socket *)h->data;
  if (s->closing) return;
  if (status < 0) { call_js(s, status); return; }
  /* call_js may close the socket (and finish the close): stop at once when it did. */
  for (int round = 0; round < ROUNDS && !s->closing; round++) {
    for (int i = 0; i < BATCH; i++) {
      struct msghdr *m = &s->rmsg[i].msg_hdr;
      s->riov[i].iov_base = s->in + (size_t)i * SLOT;
      s->riov[i].iov_len = SLOT;
      m->msg_name = &s->peer[i];
      m->msg_namelen = sizeof s->peer[i];
      m->msg_iov = &s->riov[i];
      m->msg_iovlen = 1;
      m->msg_control = s->pktinfo ? s->rctrl[i] : NULL;
      m->msg_controllen = s->pktinfo ? CTRL : 0;
      m->msg_flags = 0;
    }
    int n = recvmmsg(s->fd, s->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED) call_js(s, -errno);
      return;
    }
    if (n == 0) return;
    for (int i = 0; i < n; i++) {
      uint32_t len = s->rmsg[i].msg_len;
      int32_t *m = s->meta + i * META;
      m[0] = (int32_t)(len > SLOT ? SLOT : len); /* a slot holds any UDP payload; never more than it */
      m[2] = 0;
      uint8_t *a = s->addr + i * 16;
      if (s->peer[i].ss_family == AF_INET) {
        m[1] = 4;
        memcpy(a, &((struct sockaddr_in *)&s->peer[i])->sin_addr, 4);
      } else {
        m[1] = 6;
        memcpy(a, &((struct sockaddr_in6 *)&s->peer[i])->sin6_addr, 16);
      }
    }
    s->received += n;
    s->batches += 1;
    call_js(s, n);
    if (s->closing) return; /* closed by JavaScript during the batch */
    send_replies(s, n);
    if (n < BATCH) return; /* drained */
  }
}

static int get_slab(napi_env env, napi_value v, size_t want, void **data) {
  bool is_ab = false;
  size_t len = 0;
  if (napi_is_arraybuffer(env, v, &is_ab) != napi_ok || !is_ab) return 0;
  if (napi_get_arraybuffer_info(env, v, data, &len) != napi_ok) return 0;
  return len >= want && *data != NULL;
}

/* open(host: string, port: number, family: 4|6, reusePort: boolean, rcvbuf: number,
 *      in, out, meta, addr: ArrayBuffer, onBatch: (n) => void) → external */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 10) { napi_throw_type_error(env, NULL, "open: 10 arguments expected"); return NULL; }
  char host[64];
  size_t hostLen = 0;
  int32_t port = 0, family = 0, rcvbuf = 0;
  bool reuse = false;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hostLen) != napi_ok || hostLen >= sizeof host - 1
      || napi_get_value_int32(env, argv[1], &port) != napi_ok || port < 0 || port > 65535
      || napi_get_value_int32(env, argv[2], &family) != napi_ok || (family != 4 && family != 6)
      || napi_get_value_bool(env, argv[3], &reuse) != napi_ok
      || napi_get_value_int32(env, argv[4], &rcvbuf) != napi_ok) {
    napi_throw_type_error(env, NULL, "open: bad host, port, family, reusePort or rcvbuf");
    return NULL;
  }
  void *in, *out, *meta, *addr;
  if (!get_slab(env, argv[5], (size_t)BATCH * SLOT, &in) || !get_slab(env, argv[6], (size_t)BATCH * SLOT, &out)
      || !get_slab(env, argv[7], (BATCH + 1) * META * sizeof(int32_t), &meta) || !get_slab(env, argv[8], BATCH * 16, &addr)) {
    napi_throw_type_error(env, NULL, "open: a slab is missing or too small");
    return NULL;
  }
  napi_valuetype t;
  if (napi_typeof(env, argv[9], &t) != napi_ok || t != napi_function) { napi_throw_type_error(env, NULL, "open: onBatch must be a function"); return NULL; }

  struct sockaddr_storage sa;
  socklen_t salen;
  int wildcard;
  memset(&sa, 0, sizeof sa);
  if (family == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)&sa;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) { napi_throw_type_error(env, NULL, "open: bad IPv4 address"); return NULL; }
    wildcard = a->sin_addr.s_addr == htonl(INADDR_ANY);
    salen = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) { napi_throw_type_error(env, NULL, "open: bad IPv6 address"); return NULL; }
    wildcard = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
    salen = sizeof *a;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one); /* as node:dgram's ipv6Only */
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) { int e = errno; close(fd); return throw_errno(env, "setsockopt SO_REUSEPORT", e); }
  if (rcvbuf > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* the kernel caps it at net.core.rmem_max */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof rcvbuf);
  }
  if (wildcard) {
    if (family == 4) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    else setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  }
  if (bind(fd, (struct sockaddr *)&sa, salen) < 0) { int e = errno; close(fd); return throw_errno(env, "bind", e); }

  udp_socket *s = calloc(1, sizeof *s);
  if (!s) { close(fd); napi_throw_error(env, NULL, "open: out of memory"); return NULL; }
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->pktinfo = wildcard;
  s->in = in; s->out = out; s->meta = meta; s->addr = addr;
  napi_value name, ext;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok
      || napi_create_reference(env, argv[9], 1, &s->callback) != napi_ok
      || napi_create_reference(env, argv[5], 1, &s->slabs[0]) != napi_ok
      || napi_create_reference(env, argv[6], 1, &s->slabs[1]) != napi_ok
      || napi_create_reference(env, argv[7], 1, &s->slabs[2]) != napi_ok
      || napi_create_reference(env, argv[8], 1, &s->slabs[3]) != napi_ok
      || napi_create_string_utf8(env, "regiondns:udp-batch", NAPI_AUTO_LENGTH, &name) != napi_ok
      || napi_async_init(env, NULL, name, &s->async) != napi_ok
      || uv_poll_init(loop, &s->poll, fd) != 0) {
    release(s);
    close(fd);
    free(s);
    napi_throw_error(env, NULL, "open: could not set up the socket");
    return NULL;
  }
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (napi_add_async_cleanup_hook(env, on_env_cleanup, s, &s->cleanup) != napi_ok) s->cleanup = NULL;
  if (napi_create_external(env, s, finalize, NULL, &ext) != napi_ok) {
    start_close(s); /* freed when the handle closes */
    s->finalized = 1;
    napi_throw_error(env, NULL, "open: could not wrap the socket");
    return NULL;
  }
  return ext;
}

static udp_socket *unwrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *p = NULL;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1
      || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external
      || napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "expected a socket from open()");
    return NULL;
  }
  return (udp_socket *)p;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  udp_socket *s = unwrap(env, info);
  if (s) start_close(s);
  return NULL;
}

/* address(socket) → { address, port, family } as bound (port 0 resolved); stats → counters. */
static napi_value js_address(napi_env env, napi_callback_info info) {
  udp_socket *s = unwrap(env, info);
  if (!s) return NULL;
  if (s->closing) { napi_throw_error(env, "ERR_SOCKET_DGRAM_NOT_RUNNING", "socket is closed"); return NULL; }
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  if (getsockname(s->fd, (struct sockaddr *)&sa, &len) < 0) return throw_errno(env, "getsockname", errno);
  char text[INET6_ADDRSTRLEN];
  int port;
  if (sa.ss_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, text, sizeof text);
    port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
  } else {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, text, sizeof text);
    port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
  }
  napi_value o, a, p, f;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &a));
  CHECK(napi_create_int32(env, port, &p));
  CHECK(napi_create_string_utf8(env, sa.ss_family == AF_INET ? "IPv4" : "IPv6", NAPI_AUTO_LENGTH, &f));
  CHECK(napi_set_named_property(env, o, "address", a));
  CHECK(napi_set_named_property(env, o, "port", p));
  CHECK(napi_set_named_property(env, o, "family", f));
  return o;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  udp_socket *s = unwrap(env, info);
  if (!s) return NULL;
  napi_value o, v;
  int rcv = 0;
  socklen_t rl = sizeof rcv;
  if (!s->closing) getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcv, &rl);
  CHECK(napi_create_object(env, &o));
  double vals[5] = { s->received, s->sent, s->dropped, s->batches, rcv };
  const char *names[5] = { "received", "sent", "dropped", "batches", "rcvbuf" };
  for (int i = 0; i < 5; i++) {
    CHECK(napi_create_double(env, vals[i], &v));
    CHECK(napi_set_named_property(env, o, names[i], v));
  }
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "address", NULL, js_address, NULL, NULL, NULL, napi_enumerable, NULL },
    { "stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_value v;
  if (napi_define_properties(env, exports, 4, props) != napi_ok) return NULL;
  napi_create_int32(env, BATCH, &v); napi_set_named_property(env, exports, "BATCH", v);
  napi_create_int32(env, SLOT, &v); napi_set_named_property(env, exports, "SLOT", v);
  napi_create_int32(env, META, &v); napi_set_named_property(env, exports, "META", v);
  return exports;
}

NAPI_MODULE_INIT() {
  return init(env, exports);
}
