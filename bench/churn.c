// Loopback connection churn for bench/overhead: connect, accept, close both,
// as fast as one thread can, for a bounded time and count. A full TCP life
// per connection (handshake, FIN both ways, TIME_WAIT on the client side,
// which the kernel reuses on loopback: net.ipv4.tcp_tw_reuse = 2).
//
//   churn SECONDS MAX_CONNECTIONS    prints "CONNECTIONS ELAPSED_SECONDS"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	double seconds, t0, end;
	long max, n = 0;
	int l;

	if (argc != 3 || (seconds = atof(argv[1])) <= 0 || seconds > 600 || (max = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: churn SECONDS(0-600] MAX_CONNECTIONS\n");
		return 2;
	}
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) || listen(l, 512) ||
	    getsockname(l, (struct sockaddr *)&addr, &len)) {
		perror("churn: listener");
		return 1;
	}
	t0 = now();
	end = t0 + seconds;
	while (n < max) {
		int c = socket(AF_INET, SOCK_STREAM, 0), a;

		if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof(addr))) {
			perror("churn: connect");
			return 1;
		}
		a = accept(l, NULL, NULL);
		if (a < 0) {
			perror("churn: accept");
			return 1;
		}
		close(c);
		close(a);
		n++;
		if ((n & 63) == 0 && now() >= end)
			break;
	}
	printf("%ld %.6f\n", n, now() - t0);
	return 0;
}
