package cli

import (
	"github.com/spf13/cobra"

	"github.com/skydive-ng/skydive/internal/cli/pcapcmd"
)

// extraCommands are the commands that live in their own packages.
func extraCommands() []*cobra.Command {
	return []*cobra.Command{pcapcmd.NewCommand()}
}
