// Event source for bench/latency: refused TCP connections on loopback at a
// paced rate. Each attempt (socket, connect to a port nobody listens on, close)
// makes the kernel fire a few busprobe events: the SYN_SENT and CLOSE state
// changes and the received RST. Bounded by a duration; one process per worker.
//
//   latency_load ATTEMPTS_PER_SECOND SECONDS [WORKERS] [PORT]
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long run(double rate, double seconds, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	double start = now(), end = start + seconds;
	long done = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (now() < end) {
		// pace in batches of 50 attempts: sleep until the batch is due
		double due = start + done / rate;
		double ahead = due - now();
		if (ahead > 0) {
			struct timespec ts = { (time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9) };
			nanosleep(&ts, NULL);
		}
		for (int i = 0; i < 50; i++, done++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			if (fd < 0) {
				perror("socket");
				return done;
			}
			if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno != ECONNREFUSED) {
				fprintf(stderr, "latency_load: port %d must be closed (connect: %d)\n", port, errno);
				close(fd);
				exit(1);
			}
			close(fd);
		}
	}
	return done;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s ATTEMPTS_PER_SECOND SECONDS [WORKERS] [PORT]\n", argv[0]);
		return 2;
	}
	double rate = atof(argv[1]), seconds = atof(argv[2]);
	int workers = argc > 3 ? atoi(argv[3]) : 1;
	int port = argc > 4 ? atoi(argv[4]) : 9; // discard: nobody listens on loopback
	if (rate <= 0 || seconds <= 0 || seconds > 600 || workers < 1 || workers > 64) {
		fprintf(stderr, "latency_load: need rate > 0, 0 < seconds <= 600, 1..64 workers\n");
		return 2;
	}
	for (int w = 0; w < workers; w++) {
		if (fork() == 0) {
			long n = run(rate / workers, seconds, port);
			printf("%ld\n", n);
			return 0;
		}
	}
	int status, rc = 0;
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	return rc;
}
