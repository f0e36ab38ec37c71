package tui

import "charm.land/bubbles/v2/key"

// keyMap is every key the UI handles itself; the rest edit the input (the
// bubbles textarea's keys: arrows, Home/End, Ctrl+A/E/W/U/K, …).
type keyMap struct {
	Send, Newline, Complete  key.Binding
	HistoryPrev, HistoryNext key.Binding
	PageUp, PageDown, Bottom key.Binding
	NextConv, PrevConv, Conv key.Binding
	Leave                    key.Binding
}

func defaultKeys() keyMap {
	return keyMap{
		Send:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("Enter", "send")),
		Newline:     key.NewBinding(key.WithKeys("alt+enter", "shift+enter", "ctrl+j"), key.WithHelp("Alt+Enter", "new line (also Ctrl+J)")),
		Complete:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("Tab", "complete a /command, a name, or what /cancel takes")),
		HistoryPrev: key.NewBinding(key.WithKeys("up"), key.WithHelp("Up/Down", "what you typed before")),
		HistoryNext: key.NewBinding(key.WithKeys("down")),
		NextConv:    key.NewBinding(key.WithKeys("ctrl+n"), key.WithHelp("Ctrl+N/P Alt+N", "next/previous conversation, or the Nth")),
		PrevConv:    key.NewBinding(key.WithKeys("ctrl+p")),
		Conv:        key.NewBinding(key.WithKeys("alt+1", "alt+2", "alt+3", "alt+4", "alt+5", "alt+6", "alt+7", "alt+8", "alt+9")),
		PageUp:      key.NewBinding(key.WithKeys("pgup"), key.WithHelp("PgUp/PgDn", "scroll (or the mouse wheel)")),
		PageDown:    key.NewBinding(key.WithKeys("pgdown")),
		Bottom:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("Esc", "back to the newest messages")),
		Leave:       key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("Ctrl+C", "leave (peers see you go)")),
	}
}

// help lists the bindings that have help, for /help; the conversations'
// only with rooms to switch to.
func (k keyMap) help(rooms bool) []key.Binding {
	b := []key.Binding{k.Send, k.Newline, k.Complete, k.HistoryPrev}
	if rooms {
		b = append(b, k.NextConv)
	}
	return append(b, k.PageUp, k.Bottom, k.Leave)
}
