package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// versionCommand is udpchat version.
func versionCommand(args []string, io stdio) int {
	fs := newFlagSet("udpchat version")
	help, err := parseFlags(fs, args)
	if help {
		fmt.Fprintf(io.out, "udpchat version: print udpchat's version and the Go version that built it.\n\nUsage:\n  udpchat version\n")
		return exitOK
	}
	if err == nil && fs.NArg() > 0 {
		err = usagef("unexpected argument %q: version takes none", fs.Arg(0))
	}
	if err != nil {
		return fail(io, "version", err)
	}
	fmt.Fprintf(io.out, "udpchat %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// version is the module version the binary was built at (go install
// ...@v1.2.3), or "dev" for a build from a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
