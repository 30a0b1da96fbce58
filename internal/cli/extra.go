package cli

import "github.com/spf13/cobra"

// extraCommands are the commands that live in their own packages.
func extraCommands() []*cobra.Command {
	return nil
}
