/*
 * http_load: a lean keep-alive HTTP/1.1 client for the API benchmark.
 *
 *   http_load PORT TOKEN CLIENTS REQUESTS PUT FILE PATH
 *       CLIENTS threads, each on one keep-alive connection to
 *       127.0.0.1:PORT, send REQUESTS requests in all: POST PATH with the
 *       bytes of FILE as the body (Content-Length, no Expect), sent from
 *       the page cache with sendfile(2)
 *   http_load PORT TOKEN CLIENTS REQUESTS GET - PATH[,PATH...]
 *       GET each PATH in turn, reading the body and dropping it
 *
 * Prints one line: "ok N of M, S s, R req/s, B MB/s (bodies)" and exits 0
 * if every answer was 2xx. A benchmark helper, not a test: it checks only
 * the status line and the Content-Length framing.
 *
 * Why not curl: on a machine of two cores the client shares the CPU with
 * vaultd, and curl -T reads the file into its buffer and writes it to the
 * socket (two copies of every byte, about a third of what vaultd itself
 * spends on a large deposit). sendfile gives the socket the page cache's
 * pages; what is left to measure is the server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RBUF (256 * 1024)

struct job {
	int port;
	const char *token, *file;
	char **paths;
	int npaths;
	int put;
	unsigned requests;      /* this thread's share */
	unsigned ok;
	uint64_t bytes;         /* body bytes sent or received */
	char err[160];
};

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
connect_to(int port)
{
	struct sockaddr_in a;
	int fd, one = 1;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if ((k = send(fd, p, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
send_file(int sock, int fd, off_t size)
{
	off_t off = 0;
	ssize_t k;

	while (off < size) {
		if ((k = sendfile(sock, fd, &off, (size_t)(size - off))) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0)
			return -1;
	}
	return 0;
}

/* Reads one response: status into *status, body dropped (its length
 * added to *body). buf holds what was read past the previous response. */
static int
read_response(int fd, char *buf, size_t *have, int *status, uint64_t *body)
{
	char *end, *cl;
	uint64_t want, got;
	size_t head;
	ssize_t k;

	for (;;) {
		buf[*have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (*have >= RBUF - 1)
			return -1;
		if ((k = recv(fd, buf + *have, RBUF - 1 - *have, 0)) <= 0)
			return -1;
		*have += (size_t)k;
	}
	head = (size_t)(end + 4 - buf);
	if (sscanf(buf, "HTTP/1.1 %d", status) != 1)
		return -1;
	*end = '\0';
	if ((cl = strcasestr(buf, "\r\nContent-Length:")) == NULL)
		return -1; /* vaultd frames every answer with Content-Length */
	want = strtoull(cl + 17, NULL, 10);
	got = *have - head < want ? *have - head : want;
	/* the body: what came with the head, then the rest, dropped */
	memmove(buf, buf + head + got, *have - head - got);
	*have -= head + got;
	while (got < want) {
		size_t cap = want - got < RBUF ? (size_t)(want - got) : RBUF;
		if ((k = recv(fd, buf, cap, 0)) <= 0)
			return -1;
		got += (uint64_t)k;
	}
	*body += want;
	return 0;
}

static void *
run(void *arg)
{
	struct job *j = arg;
	char head[1024], *buf = malloc(RBUF);
	uint64_t in = 0;
	struct stat st;
	size_t have = 0;
	int sock, fd = -1, status, n;
	unsigned i;

	if (buf == NULL || (sock = connect_to(j->port)) < 0) {
		snprintf(j->err, sizeof j->err, "connect: %s", strerror(errno));
		free(buf);
		return NULL;
	}
	if (j->put && ((fd = open(j->file, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0)) {
		snprintf(j->err, sizeof j->err, "%s: %s", j->file, strerror(errno));
		goto out;
	}
	for (i = 0; i < j->requests; i++) {
		const char *path = j->paths[i % (unsigned)j->npaths];
		if (j->put)
			n = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\n"
			    "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
			    "Content-Type: application/pdf\r\nContent-Length: %lld\r\n\r\n",
			    path, j->token, (long long)st.st_size);
		else
			n = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\n"
			    "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
			    path, j->token);
		if (n < 0 || (size_t)n >= sizeof head || send_all(sock, head, (size_t)n) != 0 ||
		    (j->put && send_file(sock, fd, st.st_size) != 0) ||
		    read_response(sock, buf, &have, &status, &in) != 0) {
			snprintf(j->err, sizeof j->err, "request %u: %s", i,
			    errno ? strerror(errno) : "bad answer");
			break;
		}
		if (status >= 200 && status < 300)
			j->ok++;
		else if (j->err[0] == '\0')
			snprintf(j->err, sizeof j->err, "request %u: status %d", i, status);
		if (j->put)
			j->bytes += (uint64_t)st.st_size;
	}
	if (!j->put)
		j->bytes = in;
out:
	if (fd >= 0)
		close(fd);
	close(sock);
	free(buf);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct job *jobs;
	pthread_t *th;
	unsigned clients, requests, ok = 0, i;
	uint64_t bytes = 0;
	char *paths, *p, **list;
	int npaths = 0;
	double t;

	if (argc != 8 || (strcmp(argv[5], "PUT") != 0 && strcmp(argv[5], "GET") != 0)) {
		fprintf(stderr, "usage: http_load PORT TOKEN CLIENTS REQUESTS PUT|GET FILE|- PATH[,PATH...]\n");
		return 2;
	}
	clients = (unsigned)strtoul(argv[3], NULL, 10);
	requests = (unsigned)strtoul(argv[4], NULL, 10);
	if (clients == 0 || requests < clients)
		return 2;
	/* a server that answers before the body is all sent (413, 507) and
	 * closes: a failed request to report, not a SIGPIPE to die of */
	signal(SIGPIPE, SIG_IGN);
	if ((paths = strdup(argv[7])) == NULL ||
	    (list = calloc(strlen(argv[7]) / 2 + 2, sizeof *list)) == NULL)
		return 1;
	for (p = strtok(paths, ","); p != NULL; p = strtok(NULL, ","))
		list[npaths++] = p;
	if (npaths == 0) {
		fprintf(stderr, "http_load: no path\n");
		return 2;
	}
	jobs = calloc(clients, sizeof *jobs);
	th = calloc(clients, sizeof *th);
	if (jobs == NULL || th == NULL)
		return 1;
	t = now();
	for (i = 0; i < clients; i++) {
		jobs[i] = (struct job){ atoi(argv[1]), argv[2], argv[6], list, npaths,
		    strcmp(argv[5], "PUT") == 0, requests / clients +
		    (i < requests % clients), 0, 0, "" };
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	for (i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
		ok += jobs[i].ok;
		bytes += jobs[i].bytes;
		if (jobs[i].err[0] != '\0')
			fprintf(stderr, "http_load: client %u: %s\n", i, jobs[i].err);
	}
	t = now() - t;
	printf("ok %u of %u, %.3f s, %.1f req/s, %.1f MB/s\n", ok, requests, t,
	    ok / t, (double)bytes / t / 1e6);
	free(jobs);
	free(th);
	free(list);
	free(paths);
	return ok == requests ? 0 : 1;
}
