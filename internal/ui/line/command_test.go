package line

import "testing"

func TestParseLine(t *testing.T) {
	for line, want := range map[string]command{
		"":                   {kind: cmdSkip},
		"   \t":              {kind: cmdSkip},
		"hello":              {kind: cmdSay, arg: "hello"},
		"  spaced  ":         {kind: cmdSay, arg: "  spaced  "},
		"bye":                {kind: cmdBye, arg: "bye"},
		" BYE ":              {kind: cmdBye, arg: "BYE"},
		"Exit":               {kind: cmdBye, arg: "Exit"},
		"goodbye":            {kind: cmdSay, arg: "goodbye"},
		"existing":           {kind: cmdSay, arg: "existing"},
		"bye now":            {kind: cmdSay, arg: "bye now"},
		"/quit":              {kind: cmdQuit},
		"/QUIT now":          {kind: cmdQuit},
		"/me waves  ":        {kind: cmdMe, arg: "waves"},
		"/me":                {kind: cmdMe},
		"/nick robert":       {kind: cmdNick, arg: "robert"},
		"/connect 1.2.3.4:5": {kind: cmdConnect, arg: "1.2.3.4:5"},
		"/help":              {kind: cmdHelp},
		"//etc/passwd":       {kind: cmdSay, arg: "/etc/passwd"},
		"/bye":               {kind: cmdUnknown, arg: "bye"},
		"/":                  {kind: cmdUnknown},
		"/meow":              {kind: cmdUnknown, arg: "meow"},
	} {
		if got := parseLine(line); got != want {
			t.Errorf("parseLine(%q) = %+v, want %+v", line, got, want)
		}
	}
}
