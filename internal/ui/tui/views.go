package tui

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// banner is the welcome's "udpchat", in figlet's standard font as the
// classic app had it.
var banner = []string{
	`           _            _           _`,
	` _   _  __| |_ __   ___| |__   __ _| |_`,
	`| | | |/ _` + "`" + ` | '_ \ / __| '_ \ / _` + "`" + ` | __|`,
	`| |_| | (_| | |_) | (__| | | | (_| | |_`,
	` \__,_|\__,_| .__/ \___|_| |_|\__,_|\__|`,
	`            |_|`,
}

const bannerWidth = 40

func truncate(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// headerView is one line: the app, our name, our address, whether what we
// say is encrypted (never dropped, and loud when it is not) and our key's
// fingerprint. When it does not all fit, the fingerprint is shortened
// first; then what still does not fit goes, least important first.
func (m *model) headerView() string {
	type segment struct {
		text  string
		short string // if not "", a shorter form, taken before anything is dropped
		drop  int    // 0: never dropped; higher goes first
	}
	on := func(st lipgloss.Style) lipgloss.Style { return st.Inherit(m.st.header) }
	var security string
	switch sec := m.node.Security(); {
	case m.node.Plain():
		security = on(m.st.warning).Render(" PLAIN — not encrypted ")
	case sec.Encrypted:
		security = on(m.st.encrypted).Render("encrypted")
	default:
		security = on(m.st.warning).Render(" NOT encrypted ")
	}
	segs := []segment{
		{text: on(m.st.headerTitle).Render("udpchat"), drop: 3},
		{text: on(m.st.own).Render(termsafe.Line(m.name)), drop: 1},
	}
	if m.cur != 0 {
		segs = append(segs, segment{text: on(m.st.headerTitle).Render(m.shown().label()), drop: 0})
		if topic := termsafe.Line(m.shown().topic); topic != "" {
			segs = append(segs, segment{text: on(m.st.headerDim).Render(topic),
				short: on(m.st.headerDim).Render(ansi.Truncate(topic, 24, "…")), drop: 3})
		}
	}
	segs = append(segs, []segment{
		{text: on(m.st.headerDim).Render(m.local.String()), drop: 2},
		{text: security, drop: 0},
	}...)
	if fp := termsafe.Line(m.node.Security().Fingerprint); fp != "" {
		// Whole when it fits, so that it can be read out and compared;
		// else its first groups, enough to tell keys apart at a glance.
		segs = append(segs, segment{
			text:  on(m.st.headerDim).Render("key " + fp),
			short: on(m.st.headerDim).Render("key " + shortFingerprint(fp)),
			drop:  4,
		})
	}
	sep := on(m.st.headerDim).Render(" · ")
	// On the right, who is here; it goes first when space is short.
	who := "nobody here yet"
	if online := m.panel.online(); online > 0 {
		who = command.Count(online, "peer") + " online"
	}
	right := on(m.st.headerDim).Render(who + " ")
	join := func() string {
		var texts []string
		for _, s := range segs {
			if s.drop < 5 {
				texts = append(texts, s.text)
			}
		}
		left := on(lipgloss.NewStyle()).Render(" ") + strings.Join(texts, sep)
		if slices.ContainsFunc(segs, func(s segment) bool { return s.drop == 5 }) {
			gap := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
			return left + m.st.header.Render(strings.Repeat(" ", max(gap, 1))) + right
		}
		return left
	}
	segs = append(segs, segment{text: right, drop: 5})
	line := join()
	for ansi.StringWidth(line) > m.width && len(segs) > 1 {
		if i := slices.IndexFunc(segs, func(s segment) bool { return s.short != "" }); i >= 0 {
			segs[i].text, segs[i].short = segs[i].short, ""
			line = join()
			continue
		}
		worst := 0
		for i, s := range segs {
			if s.drop > segs[worst].drop {
				worst = i
			}
		}
		if segs[worst].drop == 0 {
			break
		}
		segs = append(segs[:worst], segs[worst+1:]...)
		line = join()
	}
	line = truncate(line, m.width)
	if pad := m.width - ansi.StringWidth(line); pad > 0 {
		line += m.st.header.Render(strings.Repeat(" ", pad))
	}
	return line
}

// statusView is the line between the messages and the input: a note or an
// error, or what leaving is waiting for, or a hint; and on the right, how
// many messages wait below when scrolled up.
func (m *model) statusView() string {
	var right string
	switch {
	case m.shown().tr.unseen > 0:
		unseen := m.shown().tr.unseen
		right = m.st.newBelow.Render(fmt.Sprintf(" ↓ %d new below ", unseen))
		if m.width >= 60 {
			right = m.st.newBelow.Render(fmt.Sprintf(" ↓ %s below (PgDn, Esc) ", command.Count(unseen, "new message")))
		}
	case !m.shown().tr.follow:
		right = m.st.dim.Render("↑ scrolled (Esc: newest)")
	}
	var left string
	switch {
	case m.leaving && m.leaveWait:
		left = m.st.status.Render(fmt.Sprintf("leaving: waiting up to %s for delivery (Ctrl+C: leave now)…", m.opts.Timeout))
	case m.leaving:
		left = m.st.status.Render("leaving…")
	case m.input.status != "" && m.input.statusErr:
		left = m.st.errText.Render(m.input.status)
	case m.input.status != "":
		left = m.st.status.Render(m.input.status)
	case len(m.files.order) > 0:
		left = m.files.view(m.width)
	default:
		left = m.st.status.Render("Enter send · Alt+Enter new line · Tab complete · PgUp/PgDn scroll · /help · Ctrl+C leave")
	}
	room := m.width - ansi.StringWidth(right)
	if right != "" {
		room-- // a space between
	}
	if room < 8 { // too narrow for both: the count wins
		return truncate(right, m.width)
	}
	left = truncate(left, room)
	gap := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	return left + strings.Repeat(" ", max(gap, 0)) + right
}

// shortFingerprint is fp cut to its first two groups ("BLAKE2s:IP35-TCWW…"),
// enough to tell keys apart at a glance; one that is not in groups is left
// whole.
func shortFingerprint(fp string) string {
	prefix, groups, ok := strings.Cut(fp, ":")
	if !ok {
		prefix, groups = "", fp
	} else {
		prefix += ":"
	}
	parts := strings.SplitN(groups, "-", 3)
	if len(parts) < 3 {
		return fp
	}
	return prefix + parts[0] + "-" + parts[1] + "…"
}

// friendCommand is the command a friend runs to join us at addr (one of
// reach), and where else it works. Two udpchats on one machine need a port
// and a data dir each, so for a loopback address, which only this machine
// reaches, the command gives the friend their own; for a LAN address, the
// note says how to do that here.
func friendCommand(addr string, plain bool) (cmd, where string) {
	cmd = "udpchat"
	if plain {
		cmd += " --plain"
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().IsLoopback() {
		return cmd + " -p " + addr + " -l " + netip.AddrPortFrom(ap.Addr(), 0).String() + " --data-dir /tmp/friend",
			"(a friend on this machine; from another machine, run udpchat with --listen on a LAN address)"
	}
	return cmd + " --peer " + addr, "(on this machine, add -l :0 --data-dir DIR: a port and a data dir of their own)"
}

// welcomeLines are shown while nobody is here: the banner, where we are,
// and the one command a friend should run to join. Small terminals get the
// gist in a few lines.
func (m *model) welcomeLines(w, h int) []string {
	reach := m.reach
	if len(reach) == 0 {
		reach = []string{m.local.String()}
	}
	friend, where := friendCommand(reach[0], m.node.Plain())
	name := m.st.own.Render(termsafe.Line(m.name))
	var text []string
	if h < 16 {
		text = []string{
			m.st.banner.Render("udpchat") + m.st.dim.Render(" · chat over UDP"),
			fmt.Sprintf("You are %s at %s.", name, reach[0]),
			"Nobody here yet. A friend runs:",
			"  " + m.st.command.Render(friend),
			"or " + m.st.command.Render("/connect HOST:PORT") + m.st.dim.Render(" · /help"),
		}
	} else {
		if w >= bannerWidth+2 && h >= 20 {
			for _, l := range banner {
				text = append(text, m.st.banner.Render(l))
			}
		} else {
			text = append(text, m.st.banner.Render("udpchat"))
		}
		text = append(text,
			m.st.dim.Render("chat machine to machine over UDP"),
			"",
			fmt.Sprintf("You are %s, listening on %s.", name, m.local))
		if connecting := m.panel.connecting(); len(connecting) > 0 {
			text = append(text, m.st.connecting.Render("Waiting for "+strings.Join(connecting, ", ")+" to answer…"))
		}
		text = append(text,
			"Nobody is here yet. Ask a friend to run:",
			"",
			"  "+m.st.command.Render(friend),
			m.st.dim.Render(where),
			"")
		if len(reach) > 1 {
			text = append(text, m.st.dim.Render("(or --peer "+strings.Join(reach[1:], ", ")+")"))
		}
		text = append(text, "or reach them: "+m.st.command.Render("/connect HOST:PORT"))
		if len(m.panel.nearby) > 0 {
			names := make([]string, len(m.panel.nearby))
			for i, n := range m.panel.nearby {
				names[i] = termsafe.Line(n.Name)
			}
			text = append(text, "Nearby: "+strings.Join(names, ", ")+m.st.dim.Render(" · /msg NAME TEXT writes to one"))
		}
		if fp := m.node.Security().Fingerprint; fp != "" {
			text = append(text, "Your key: "+m.st.dim.Render(termsafe.Line(fp)))
		}
		text = append(text, m.st.dim.Render("/help lists the commands · Ctrl+C leaves"), "")
	}
	var lines []string
	for _, t := range text {
		for _, l := range strings.Split(ansi.Wrap(t, max(w-1, 1), ""), "\n") {
			lines = append(lines, " "+l)
		}
	}
	return lines
}

// duration is d rounded for people: 12ms, 1.3s.
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// byteSize is n in B, KiB or MiB.
func byteSize(n uint64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
