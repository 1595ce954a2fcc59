package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func newReapCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "reap",
		Short: "Remove anything a crashed run could have left behind (stale sockets, named namespaces, links, nft tables, processes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := sandbox.Reap(sandbox.ReapOptions{})
			out := cmd.OutOrStdout()
			for _, r := range rep.Removed {
				fmt.Fprintf(out, "removed %v\n", r)
			}
			if len(rep.Removed) == 0 {
				fmt.Fprintln(out, "nothing to reap")
			}
			return err
		},
	}
}
