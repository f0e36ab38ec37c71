package tui

import (
	"hash/fnv"
	"image/color"

	"charm.land/lipgloss/v2"
)

// styles are the looks of everything on screen, for one background (light
// or dark) and with or without colour. Colours are chosen for both
// backgrounds (lipgloss.LightDark); under NO_COLOR there are none at all and
// what must stand out (the plain-mode warning) is bold and reversed instead.
type styles struct {
	header, headerTitle, headerDim  lipgloss.Style
	encrypted, warning              lipgloss.Style
	time, own, notice, errText, dim lipgloss.Style
	pending, sent, delivered, fail  lipgloss.Style
	cancelled, past                 lipgloss.Style // past: history shown at start, dimmed
	panel, panelTitle               lipgloss.Style
	online, connecting, away, left  lipgloss.Style
	status, newBelow                lipgloss.Style
	banner, command                 lipgloss.Style
	prompt, placeholder             lipgloss.Style
	// peers are the colours a peer's name may get; see peerStyle.
	peers []lipgloss.Style
}

func newStyles(dark, noColor bool) styles {
	ld := lipgloss.LightDark(dark)
	c := func(light, darkHex string) color.Color {
		if noColor {
			return lipgloss.NoColor{}
		}
		return ld(lipgloss.Color(light), lipgloss.Color(darkHex))
	}
	fg := func(light, darkHex string) lipgloss.Style {
		return lipgloss.NewStyle().Foreground(c(light, darkHex))
	}
	s := styles{
		header:      lipgloss.NewStyle().Background(c("#E4E4E4", "#303030")).Foreground(c("#262626", "#E4E4E4")),
		headerTitle: lipgloss.NewStyle().Bold(true).Foreground(c("#5F00AF", "#AF87FF")),
		headerDim:   fg("#6C6C6C", "#A8A8A8"),
		encrypted:   fg("#007A3D", "#5FD787").Bold(true),
		warning:     lipgloss.NewStyle().Bold(true).Foreground(c("#FFFFFF", "#1C1C1C")).Background(c("#D70000", "#FFAF00")),
		time:        fg("#8A8A8A", "#767676"),
		own:         lipgloss.NewStyle().Bold(true),
		notice:      fg("#6C6C6C", "#9E9E9E").Italic(true),
		errText:     fg("#D70000", "#FF5F5F").Bold(true),
		dim:         fg("#8A8A8A", "#767676"),
		pending:     fg("#8A8A8A", "#767676"),
		sent:        fg("#5F87AF", "#87AFD7"),
		delivered:   fg("#007A3D", "#5FD787").Bold(true),
		fail:        fg("#D70000", "#FF5F5F").Bold(true),
		cancelled:   fg("#AF5F00", "#D7AF5F").Bold(true),
		past:        fg("#9E9E9E", "#6C6C6C"),
		panel:       lipgloss.NewStyle().BorderStyle(lipgloss.NormalBorder()).BorderLeft(true).BorderForeground(c("#BCBCBC", "#444444")).PaddingLeft(1),
		panelTitle:  lipgloss.NewStyle().Bold(true),
		online:      fg("#007A3D", "#5FD787"),
		connecting:  fg("#AF8700", "#FFD75F"),
		away:        fg("#D70000", "#FF5F5F"),
		left:        fg("#8A8A8A", "#767676"),
		status:      fg("#6C6C6C", "#8A8A8A"),
		newBelow:    lipgloss.NewStyle().Bold(true).Foreground(c("#FFFFFF", "#1C1C1C")).Background(c("#005FAF", "#87AFFF")),
		banner:      fg("#5F00AF", "#AF87FF").Bold(true),
		command:     fg("#005FAF", "#87D7FF").Bold(true),
		prompt:      fg("#5F00AF", "#AF87FF").Bold(true),
		placeholder: fg("#9E9E9E", "#626262"),
	}
	if noColor {
		s.warning = lipgloss.NewStyle().Bold(true).Reverse(true)
		s.newBelow = lipgloss.NewStyle().Bold(true).Reverse(true)
		s.header = lipgloss.NewStyle()
		s.errText = lipgloss.NewStyle().Bold(true)
		s.past = lipgloss.NewStyle().Faint(true)
	}
	for _, p := range [][2]string{
		{"#AF005F", "#FF875F"}, {"#005FAF", "#5FD7FF"}, {"#5F8700", "#AFD75F"}, {"#8700AF", "#D787FF"},
		{"#AF5F00", "#FFD75F"}, {"#008787", "#5FFFD7"}, {"#D7005F", "#FF5FAF"}, {"#0000D7", "#87AFFF"},
	} {
		s.peers = append(s.peers, fg(p[0], p[1]).Bold(true))
	}
	return s
}

// peerStyle is the colour of the peer known by key (its address): the same
// peer always gets the same colour, whatever its name, and different peers
// most likely different ones.
func (s styles) peerStyle(key string) lipgloss.Style {
	h := fnv.New32a()
	h.Write([]byte(key))
	return s.peers[h.Sum32()%uint32(len(s.peers))]
}
