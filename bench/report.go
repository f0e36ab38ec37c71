package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// result is one system's figures in one scenario: medians over the rounds
// (sent, delivered and the counters are totals). Fields that do not apply
// are nil and left out of the JSON.
type result struct {
	Scenario      string   `json:"scenario"`
	System        string   `json:"system"`
	MsgsPerS      *float64 `json:"msgs_per_s,omitempty"`
	P50us         *float64 `json:"p50_us,omitempty"`
	P99us         *float64 `json:"p99_us,omitempty"`
	CPUusPerMsg   *float64 `json:"cpu_us_per_msg,omitempty"`
	Sent          *int64   `json:"sent,omitempty"`
	Delivered     *int64   `json:"delivered,omitempty"`
	Retransmits   *int64   `json:"retransmits,omitempty"`
	PacketsLost   *int64   `json:"packets_lost,omitempty"`
	RcvbufErrors  *int64   `json:"rcvbuf_errors,omitempty"`
	Datagrams     *int64   `json:"datagrams,omitempty"`
	DgramsSent    *int64   `json:"datagrams_sent,omitempty"`
	DgramsDropped *int64   `json:"datagrams_dropped,omitempty"`
	Misordered    *int64   `json:"misordered,omitempty"`
	Incomplete    int      `json:"incomplete_runs,omitempty"`
	Rounds        int      `json:"rounds"`
	Errors        []string `json:"errors,omitempty"`

	// For the table.
	figure   float64 // the scenario's compared figure; NaN if none
	ratio    float64 // figure over the best peer's; NaN if none
	bestPeer string
	sc       *scenario
	sys      *system
}

func aggregate(sc *scenario, sys *system, ss []sample, errs []string) *result {
	r := &result{Scenario: sc.name, System: sys.name, Rounds: len(ss), Errors: errs,
		figure: math.NaN(), ratio: math.NaN(), sc: sc, sys: sys}
	if len(ss) == 0 {
		return r
	}
	med := func(f func(*sample) float64) *float64 {
		xs := make([]float64, len(ss))
		for i := range ss {
			xs[i] = f(&ss[i])
		}
		slices.Sort(xs)
		m := xs[len(xs)/2]
		if len(xs)%2 == 0 {
			m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
		}
		m = math.Round(m*100) / 100
		return &m
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	if ss[0].hasRate {
		r.MsgsPerS = med(func(s *sample) float64 { return math.Round(s.msgsPerS) })
	}
	if ss[0].hasLatency {
		r.P50us = med(func(s *sample) float64 { return us(s.p50) })
		r.P99us = med(func(s *sample) float64 { return us(s.p99) })
	}
	r.CPUusPerMsg = med(func(s *sample) float64 { return us(s.cpuPerMsg) })
	var sent, delivered, retrans, lost, rcvbuf, dsent, ddrop, misordered, dgrams int64
	counted, lostCounted, rcvbufCounted := true, true, true
	for _, s := range ss {
		if s.packetsLost < 0 {
			lostCounted = false
		}
		lost += s.packetsLost
		if s.rcvbufErrors < 0 {
			rcvbufCounted = false
		}
		rcvbuf += s.rcvbufErrors
		sent += s.sent
		dgrams += s.datagrams
		delivered += s.delivered
		misordered += s.misordered
		dsent += s.dgramsSent
		ddrop += s.dgramsDropped
		if s.retransmits < 0 {
			counted = false
		}
		retrans += s.retransmits
		if s.incomplete {
			r.Incomplete++
		}
	}
	r.Sent, r.Delivered = &sent, &delivered
	if counted {
		r.Retransmits = &retrans
	}
	if dgrams > 0 {
		r.Datagrams = &dgrams
	}
	if lostCounted {
		r.PacketsLost = &lost
	}
	if rcvbufCounted {
		r.RcvbufErrors = &rcvbuf
	}
	if dsent > 0 {
		r.DgramsSent, r.DgramsDropped = &dsent, &ddrop
	}
	if sys.reliable {
		r.Misordered = &misordered
	}
	switch sc.figure {
	case "msgs/s":
		if r.MsgsPerS != nil {
			r.figure = *r.MsgsPerS
		}
	case "p50":
		if r.P50us != nil {
			r.figure = *r.P50us
		}
	case "p99":
		if r.P99us != nil {
			r.figure = *r.P99us
		}
	}
	return r
}

// rank sets each result's ratio to the best peer (kcp-go, quic-go, TCP) in
// its scenario.
func rank(sc *scenario, group []*result) {
	best, bestName := math.NaN(), ""
	for _, r := range group {
		if !r.sys.peer || math.IsNaN(r.figure) || r.figure <= 0 {
			continue
		}
		if math.IsNaN(best) || (sc.higherBetter() && r.figure > best) || (!sc.higherBetter() && r.figure < best) {
			best, bestName = r.figure, r.System
		}
	}
	for _, r := range group {
		r.bestPeer = bestName
		if !math.IsNaN(best) && !math.IsNaN(r.figure) {
			r.ratio = r.figure / best
		}
	}
}

func writeJSON(w io.Writer, r *result) {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // only plain fields: cannot happen
	}
	fmt.Fprintf(w, "%s\n", b)
}

// brief is a progress line's summary of one run.
func brief(sc *scenario, s *sample) string {
	var b strings.Builder
	if s.hasRate {
		fmt.Fprintf(&b, "%.0f msgs/s ", s.msgsPerS)
	}
	if s.hasLatency {
		fmt.Fprintf(&b, "p50 %v p99 %v ", s.p50.Round(100*time.Nanosecond), s.p99.Round(100*time.Nanosecond))
	}
	fmt.Fprintf(&b, "cpu %.2fµs/msg %d/%d", float64(s.cpuPerMsg)/1e3, s.delivered, s.sent)
	if s.datagrams > 0 {
		fmt.Fprintf(&b, " datagrams %d", s.datagrams)
	}
	if s.retransmits > 0 {
		fmt.Fprintf(&b, " retransmits %d", s.retransmits)
	}
	if s.incomplete {
		b.WriteString(" (time bound hit)")
	}
	return b.String()
}

func printTable(w io.Writer, cfg *config, results []*result) {
	rows := [][]string{{"scenario", "system", "figure", "vs best peer", "msgs/s", "p50 µs", "p99 µs", "cpu µs/msg", "delivered/sent", "retrans"}}
	var last *scenario
	var legend []string
	for _, r := range results {
		scName := ""
		if r.sc != last {
			last, scName = r.sc, r.Scenario
			dir := "lower is better"
			if r.sc.higherBetter() {
				dir = "higher is better"
			}
			best := "best peer " + r.bestPeer
			switch {
			case r.sc.e2e:
				best = "udpchat-cli against the others below"
			case r.bestPeer == "":
				best = "best peer: none ran"
			}
			legend = append(legend, fmt.Sprintf("  %-10s %s: figure %s (%s); %s", r.Scenario, r.sc.desc, r.sc.figure, dir, best))
		}
		figure, ratio := "-", "-"
		if !math.IsNaN(r.figure) {
			figure = fmtNum(r.figure)
			if r.sc.figure != "msgs/s" {
				figure += " µs"
			}
		}
		if !math.IsNaN(r.ratio) {
			ratio = fmt.Sprintf("%.2f×", r.ratio)
		}
		dsent := "-"
		if r.Sent != nil {
			dsent = fmt.Sprintf("%d/%d", *r.Delivered, *r.Sent)
			if r.Incomplete > 0 {
				dsent += fmt.Sprintf(" (%d cut)", r.Incomplete)
			}
		}
		retrans := "-"
		if r.Retransmits != nil {
			retrans = fmt.Sprint(*r.Retransmits)
		}
		name := r.System
		if len(r.Errors) > 0 {
			name += fmt.Sprintf(" (%d failed)", len(r.Errors))
		}
		rows = append(rows, []string{scName, name, figure, ratio,
			optNum(r.MsgsPerS), optNum(r.P50us), optNum(r.P99us), optNum(r.CPUusPerMsg), dsent, retrans})
	}
	writeRows(w, rows, 2)
	fmt.Fprintln(w)
	if slices.ContainsFunc(cfg.scenarios, func(sc *scenario) bool { return !sc.e2e }) {
		fmt.Fprintf(w, "%d rounds, interleaved; medians over rounds (delivered/sent and retransmits summed). "+
			"Both ends in one process on 127.0.0.1; cpu is the whole process's (both ends) per message delivered. "+
			"vs best peer: figure / best of kcp-go, quic-go, TCP.\n", cfg.params.rounds)
	}
	if slices.ContainsFunc(cfg.scenarios, func(sc *scenario) bool { return sc.e2e }) {
		fmt.Fprintf(w, "e2e scenarios: %d round(s); udpchat-cli is two udpchat processes, its cpu theirs and the benchmark's.\n", cfg.params.e2eRounds)
	}
	fmt.Fprintln(w, strings.Join(legend, "\n"))
	for _, r := range results {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "failed: %s %s: %s\n", r.Scenario, r.System, e)
		}
		if r.Misordered != nil && *r.Misordered > 0 {
			fmt.Fprintf(w, "BUG: %s %s delivered %d messages out of order or twice\n", r.Scenario, r.System, *r.Misordered)
		}
	}
	// Retransmissions on clean loopback: the target is zero. Packets the
	// sender declared lost, and the kernel's receive-buffer drops (all
	// sockets) over the same runs, tell real drops from spurious resends.
	for _, name := range []string{"udpchat", "udpchat-encrypted"} {
		var parts []string
		for _, r := range results {
			if r.System == name && r.sc.lossless && r.Retransmits != nil {
				part := fmt.Sprintf("%s %d", r.Scenario, *r.Retransmits)
				if r.PacketsLost != nil && r.RcvbufErrors != nil {
					part += fmt.Sprintf(" [declared lost %d, kernel rcvbuf drops %d]", *r.PacketsLost, *r.RcvbufErrors)
				}
				parts = append(parts, part)
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "%s retransmissions on clean loopback (target 0): %s\n", name, strings.Join(parts, ", "))
		}
	}
}

// writeRows prints rows as columns: the first `left` columns left-aligned,
// the rest right-aligned (numbers).
func writeRows(w io.Writer, rows [][]string, left int) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i < left {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
			b.WriteString("  ")
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// printTargets checks the targets against this run.
func printTargets(w io.Writer, results []*result) {
	get := func(sc, sys string) *result { return find(results, sc, sys) }
	var lines []string
	check := func(name string, ok bool, detail string) {
		mark := "MISS"
		if ok {
			mark = "ok  "
		}
		lines = append(lines, fmt.Sprintf("  %s %s: %s", mark, name, detail))
	}
	for _, u := range []string{"udpchat", "udpchat-encrypted"} {
		start := len(lines)
		if t, q, k := get("throughput", u), get("throughput", "quic-go"), get("throughput", "kcp-go"); t != nil && t.MsgsPerS != nil {
			if q != nil && q.MsgsPerS != nil {
				check("throughput >= quic-go", *t.MsgsPerS >= *q.MsgsPerS, fmt.Sprintf("%s vs %s msgs/s (%.2f×)", fmtNum(*t.MsgsPerS), fmtNum(*q.MsgsPerS), *t.MsgsPerS / *q.MsgsPerS))
				if t.CPUusPerMsg != nil && q.CPUusPerMsg != nil {
					check("CPU per message <= quic-go", *t.CPUusPerMsg <= *q.CPUusPerMsg, fmt.Sprintf("%.2f vs %.2f µs/msg", *t.CPUusPerMsg, *q.CPUusPerMsg))
				}
			}
			if k != nil && k.MsgsPerS != nil {
				check("throughput >= 4× kcp-go", *t.MsgsPerS >= 4**k.MsgsPerS, fmt.Sprintf("%.2f× kcp-go", *t.MsgsPerS / *k.MsgsPerS))
			}
		}
		if t, raw := get("rtt", u), get("rtt", "raw-udp"); t != nil && raw != nil && t.P50us != nil && raw.P50us != nil {
			check("RTT p50 <= 1.2× raw UDP", *t.P50us <= 1.2**raw.P50us, fmt.Sprintf("%.1f vs %.1f µs (%.2f×)", *t.P50us, *raw.P50us, *t.P50us / *raw.P50us))
		}
		if t, q := get("paced", u), get("paced", "quic-go"); t != nil && q != nil && t.P99us != nil && q.P99us != nil {
			check("paced p99 <= quic-go", *t.P99us <= *q.P99us, fmt.Sprintf("%.1f vs %.1f µs", *t.P99us, *q.P99us))
		}
		if t := get("loss30", u); t != nil {
			detail := fmt.Sprintf("%d/%d", *t.Delivered, *t.Sent)
			if t.Incomplete > 0 {
				detail += fmt.Sprintf(", %d of %d runs cut by the time bound", t.Incomplete, t.Rounds)
			}
			check("30% loss: every message delivered", *t.Delivered == *t.Sent && len(t.Errors) == 0, detail)
		}
		if t, clean := get("loss10", u), get("throughput", u); t != nil && clean != nil && t.MsgsPerS != nil && clean.MsgsPerS != nil {
			check("10% loss: throughput >= half of loss-free", *t.MsgsPerS >= *clean.MsgsPerS/2, fmt.Sprintf("%s vs %s msgs/s (%.2f)", fmtNum(*t.MsgsPerS), fmtNum(*clean.MsgsPerS), *t.MsgsPerS / *clean.MsgsPerS))
		}
		var retrans int64
		any := false
		for _, r := range results {
			if r.System == u && r.sc.lossless && r.Retransmits != nil {
				retrans += *r.Retransmits
				any = true
			}
		}
		if any {
			check("zero retransmissions on clean loopback", retrans == 0, fmt.Sprint(retrans))
		}
		if len(lines) > start {
			lines = slices.Insert(lines, start, fmt.Sprintf("targets (issue 6), %s:", u))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(lines, "\n"))
	}
}

// find returns the result of sys in scenario sc, if it ran at least once.
func find(results []*result, sc, sys string) *result {
	for _, r := range results {
		if r.Scenario == sc && r.System == sys && r.Rounds > 0 {
			return r
		}
	}
	return nil
}

// printE2E sets udpchat-cli's figures in the e2e scenarios beside its
// floors in the same run: raw UDP (the network) and one SQLite commit at a
// time (the disk).
func printE2E(w io.Writer, results []*result) {
	var lines []string
	if u := find(results, "e2e", "udpchat-cli"); u != nil && u.MsgsPerS != nil {
		line := fmt.Sprintf("  piped: %s msgs/s", fmtNum(*u.MsgsPerS))
		if r := find(results, "e2e", "raw-udp"); r != nil && r.MsgsPerS != nil {
			line += fmt.Sprintf("; raw-udp %s msgs/s (%.3f×, %d of %d lines lost)", fmtNum(*r.MsgsPerS), *u.MsgsPerS / *r.MsgsPerS, *r.Sent-*r.Delivered, *r.Sent)
		}
		if c := find(results, "e2e", "sqlite-commit"); c != nil && c.MsgsPerS != nil {
			line += fmt.Sprintf("; sqlite-commit %s commits/s (%.2f×)", fmtNum(*c.MsgsPerS), *u.MsgsPerS / *c.MsgsPerS)
		}
		lines = append(lines, line)
	}
	if u := find(results, "e2e-lone", "udpchat-cli"); u != nil && u.P50us != nil {
		line := fmt.Sprintf("  a lone line: p50 %s µs, p99 %s µs", fmtNum(*u.P50us), fmtNum(*u.P99us))
		for _, floor := range []string{"raw-udp", "sqlite-commit"} {
			if r := find(results, "e2e-lone", floor); r != nil && r.P50us != nil && *r.P50us > 0 {
				line += fmt.Sprintf("; %s p50 %s µs (%.1f×)", floor, fmtNum(*r.P50us), *u.P50us / *r.P50us)
			}
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nudpchat-cli against its floors (raw-udp: the network; sqlite-commit: one commit at a time on this disk):\n%s\n", strings.Join(lines, "\n"))
	}
}

func optNum(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmtNum(*p)
}

// fmtNum prints with thousands separators at or above 10 000, else with
// up to two decimals.
func fmtNum(x float64) string {
	if math.Abs(x) < 10_000 {
		s := fmt.Sprintf("%.2f", x)
		if math.Abs(x) >= 100 {
			s = fmt.Sprintf("%.0f", x)
		} else if math.Abs(x) >= 10 {
			s = fmt.Sprintf("%.1f", x)
		}
		return s
	}
	s := fmt.Sprintf("%.0f", x)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
