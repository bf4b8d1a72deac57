# Benchmark and load test of issue 7 (PostgreSQL at 127.0.0.1:5432; see bench/).
# make bench                  both scales (small, large); make bench SCALE=small
# make bench-quick            a tiny smoke run
# make load                   20 clients, 2000 requests, own server on 127.0.0.1

PYTHON ?= .venv/bin/python
SCALE ?= both
BENCH_ARGS ?=
REQUESTS ?= 2000
CLIENTS ?= 20

.PHONY: bench bench-quick load

bench:
	$(PYTHON) -m bench --scale $(SCALE) $(BENCH_ARGS)

bench-quick:
	$(PYTHON) -m bench --quick $(BENCH_ARGS)

load:
	$(PYTHON) -m bench.load --requests $(REQUESTS) --clients $(CLIENTS)
