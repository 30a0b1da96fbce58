// Command skydive is the agent, the analyzer, both at once, and the client.
package main

import (
	"os"

	"github.com/skydive-ng/skydive/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
