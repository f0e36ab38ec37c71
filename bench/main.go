// Command bench measures udpchat's transport side by side with raw UDP,
// kcp-go, quic-go and TCP on loopback, in one process, interleaved.
//
//	cd bench && go run . [--quick] [--json] [--scenario NAME[,NAME]] [--system NAME[,NAME]]
//
// For each scenario, every system runs once per round, in an order that
// rotates from round to round, and the table shows each system's median over
// the rounds: drift in the machine's speed lands on every system alike. It
// lives in its own module so that kcp-go and quic-go never become
// dependencies of udpchat.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// systems is the constructor table: what runs, in table order. A udpchat
// variant is a connWrapper (the layer between the transport and its socket):
// udpchat-encrypted's, in sys_secure.go, is secure.NewConn over the socket.
var systems = []*system{
	{name: "raw-udp", newLink: newRawLink(false), withPipe: viaLink},
	{name: "raw-udp-batch", batchOnly: true, newLink: newRawLink(true)},
	{name: "udpchat", reliable: true, lossy: true,
		newLink: newUDPChatLink(connWrapper{}), newDialer: newUDPChatDialer(connWrapper{})},
	{name: "udpchat-encrypted", reliable: true, lossy: true,
		newLink: newUDPChatLink(secureWrapper()), newDialer: newUDPChatDialer(secureWrapper())},
	{name: "kcp-go", peer: true, reliable: true, lossy: true, newLink: newKCPLink, newDialer: newKCPDialer},
	{name: "quic-go", peer: true, reliable: true, lossy: true, newLink: newQUICLink, newDialer: newQUICDialer},
	{name: "tcp", peer: true, reliable: true, newLink: newTCPLink, newDialer: newTCPDialer},
	// The e2e scenarios only (e2e.go): two udpchat processes, and the
	// disk's floor under them.
	{name: "udpchat-cli", reliable: true, withPipe: viaProcesses},
	{name: "sqlite-commit", reliable: true, withPipe: viaCommits},
}

// config is what the command line chose.
type config struct {
	params    params
	json      bool
	scenarios []*scenario
	systems   []*system
}

func main() {
	quick := flag.Bool("quick", false, "a short run (under two minutes on 2 cores)")
	jsonOut := flag.Bool("json", false, "one JSON object a line on stdout (the table goes to stderr)")
	scenarioNames := flag.String("scenario", "", "only these scenarios, comma-separated: "+names(scenarios, func(s *scenario) string { return s.name }))
	systemNames := flag.String("system", "", "only these systems, comma-separated: "+names(systems, func(s *system) string { return s.name }))
	rounds := flag.Int("rounds", 0, "rounds per scenario (default 5, or 3 with --quick; 1 for e2e and e2e-lone)")
	pacedRates := flag.String("paced-rate", "", "run the paced scenario at these rates instead of 10000, comma-separated msgs/s (e.g. 1000,10000,50000): how CPU per message grows with load")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	e2eLines := flag.Int("e2e-lines", 0, "lines the e2e scenario pipes through (default 100000, or 10000 with --quick)")
	loneLines := flag.Int("lone-lines", 0, "lines the e2e-lone scenario sends one at a time (default 500, or 100 with --quick)")
	flag.StringVar(&udpchatExe.path, "udpchat", "", "the udpchat executable udpchat-cli runs (default: build ../cmd/udpchat)")
	flag.Parse()

	cfg := config{params: fullParams, json: *jsonOut}
	if *quick {
		cfg.params = quickParams
	}
	if *rounds > 0 {
		cfg.params.rounds, cfg.params.e2eRounds = *rounds, *rounds
	}
	if *e2eLines > 0 {
		cfg.params.e2eLines = *e2eLines
	}
	if *loneLines > 0 {
		cfg.params.loneCount = *loneLines
	}
	all := scenarios
	if *pacedRates != "" {
		var err error
		if all, err = withPacedRates(scenarios, *pacedRates); err != nil {
			fail(err)
		}
	}
	var err error
	if cfg.scenarios, err = pick(all, *scenarioNames, func(s *scenario) string { return s.name }); err != nil {
		fail(err)
	}
	if cfg.systems, err = pick(systems, *systemNames, func(s *system) string { return s.name }); err != nil {
		fail(err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// A backstop: every loop is bounded on its own, this bounds them all.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()

	start := time.Now()
	table := io.Writer(os.Stdout)
	if cfg.json {
		table = os.Stderr
	}
	results := run(ctx, &cfg, os.Stdout, os.Stderr)
	udpchatExe.remove()
	printTable(table, &cfg, results)
	printTargets(table, results)
	printE2E(table, results)
	fmt.Fprintf(table, "\nwall time %.1fs\n", time.Since(start).Seconds())
	if ctx.Err() != nil {
		fail(ctx.Err())
	}
}

// run runs every chosen scenario: rounds of every applicable system, in an
// order rotated each round. JSON lines go to jsonOut (if cfg.json) as each
// scenario finishes; progress to progress.
func run(ctx context.Context, cfg *config, jsonOut, progress io.Writer) []*result {
	var results []*result
	t0 := time.Now()
	for _, sc := range cfg.scenarios {
		var syss []*system
		for _, sys := range cfg.systems {
			if sc.applies(sys) {
				syss = append(syss, sys)
			}
		}
		samples := make(map[*system][]sample)
		errs := make(map[*system][]string)
		rounds := cfg.params.rounds
		if sc.e2e {
			rounds = cfg.params.e2eRounds
		}
		for round := range rounds {
			seed := uint64(round + 1) // the same loss pattern for every system in a round
			for i := range syss {
				sys := syss[(i+round)%len(syss)]
				if ctx.Err() != nil {
					break
				}
				s, err := sc.run(ctx, sys, &cfg.params, seed)
				if err != nil {
					errs[sys] = append(errs[sys], err.Error())
					fmt.Fprintf(progress, "[%5.1fs] %s %d/%d %s: error: %v\n", time.Since(t0).Seconds(), sc.name, round+1, rounds, sys.name, err)
					continue
				}
				samples[sys] = append(samples[sys], s)
				fmt.Fprintf(progress, "[%5.1fs] %s %d/%d %s: %s\n", time.Since(t0).Seconds(), sc.name, round+1, rounds, sys.name, brief(sc, &s))
			}
		}
		var group []*result
		for _, sys := range syss {
			group = append(group, aggregate(sc, sys, samples[sys], errs[sys]))
		}
		rank(sc, group)
		for _, r := range group {
			if cfg.json {
				writeJSON(jsonOut, r)
			}
		}
		results = append(results, group...)
	}
	return results
}

// withPacedRates replaces the paced scenario by one per rate in list,
// named paced-RATE (paced-1000, ...), each sending at its rate.
func withPacedRates(all []*scenario, list string) ([]*scenario, error) {
	var out []*scenario
	for _, sc := range all {
		if sc.name != "paced" {
			out = append(out, sc)
			continue
		}
		for _, f := range strings.Split(list, ",") {
			rate, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || rate <= 0 {
				return nil, fmt.Errorf("--paced-rate: %q is not a positive number of messages a second", f)
			}
			r := *sc
			r.name = fmt.Sprintf("paced-%d", rate)
			r.desc = fmt.Sprintf("one-way latency at %d msgs/s, 100-byte messages, send time in the payload", rate)
			r.run = func(ctx context.Context, sys *system, p *params, seed uint64) (sample, error) {
				q := *p
				q.pacedRate = rate
				return runPaced(ctx, sys, &q, seed)
			}
			out = append(out, &r)
		}
	}
	return out, nil
}

// pick returns the entries of all named in list (comma-separated), or all
// of them if list is empty.
func pick[T any](all []T, list string, name func(T) string) ([]T, error) {
	if list == "" {
		return all, nil
	}
	var out []T
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(all, func(x T) bool { return name(x) == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown name %q; choose from %s", n, names(all, name))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func names[T any](all []T, name func(T) string) string {
	var ns []string
	for _, x := range all {
		ns = append(ns, name(x))
	}
	return strings.Join(ns, ", ")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
