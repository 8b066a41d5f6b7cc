/* LD_PRELOAD shim for the benchmark: sets TCP_NODELAY on every TCP socket the
 * process creates (at socket() and again at connect(), for sockets made some
 * other way). Used to measure lettre 0.11 "with TCP_NODELAY forced": as
 * released it never sets it, and Nagle plus delayed ACK then cost ~40 ms per
 * message. Built by scripts/bench.sh:
 *   gcc -O2 -shared -fPIC -o nodelay_shim.so nodelay_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd) {
    int one = 1;
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM) {
        /* Fails harmlessly (ENOPROTOOPT) on Unix-domain stream sockets. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

int socket(int domain, int type, int protocol) {
    static int (*real)(int, int, int);
    if (!real) real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    int fd = real(domain, type, protocol);
    if (fd >= 0 && (domain == AF_INET || domain == AF_INET6)) nodelay(fd);
    return fd;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) nodelay(fd);
    return real(fd, addr, len);
}
