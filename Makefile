# Callwerk. `make run` starts the demo, `make test` runs every test.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME   ?= 1s
FUZZTIME    ?= 30s

.PHONY: build run test test-deps web bench lint fuzz prompts clean

build: web
	$(GO) build -o bin/callwerk ./cmd/callwerk
	$(GO) build -o bin/loadtest ./cmd/loadtest

run: build
	./bin/callwerk serve -log-format console

# Installs the interop tools (SIPp, baresip, tshark, Chromium) when missing, starts
# Redis and NATS when absent, then vets and runs all tests with the race
# detector, the SIPp/baresip/browser interop tests included.
test: test-deps web
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

test-deps:
	./scripts/test-deps.sh

# The agent desktop's SIP library: JsSIP from npm (web/package-lock.json),
# bundled by esbuild into web/build/jssip.js, which the binary embeds; and
# playwright-core, which drives Chromium in the browser test.
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

# Go benchmarks and the load scenarios, into bench/results/ (text for
# benchstat, JSON with the machine's description).
bench: test-deps
	GO=$(GO) BENCHTIME=$(BENCHTIME) ./scripts/bench.sh

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseSDP -fuzztime $(FUZZTIME) ./media/
	$(GO) test -run '^$$' -fuzz FuzzDecodeWAV -fuzztime $(FUZZTIME) ./media/
	$(GO) test -run '^$$' -fuzz FuzzRelayPacket -fuzztime $(FUZZTIME) ./media/
	$(GO) test -run '^$$' -fuzz FuzzTelephoneEvent -fuzztime $(FUZZTIME) ./media/
	$(GO) test -run '^$$' -fuzz FuzzRTCP -fuzztime $(FUZZTIME) ./media/
	$(GO) test -run '^$$' -fuzz FuzzParseDigest -fuzztime $(FUZZTIME) ./sip/
	$(GO) test -run '^$$' -fuzz FuzzSanity -fuzztime $(FUZZTIME) ./sip/
	$(GO) test -run '^$$' -fuzz 'FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/config/
	$(GO) test -run '^$$' -fuzz FuzzParseQueueLogLine -fuzztime $(FUZZTIME) ./queues/

# Regenerates the built-in German prompts with espeak-ng (committed WAVs).
prompts:
	./scripts/prompts.sh

clean:
	rm -rf bin
