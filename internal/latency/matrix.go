package latency

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteMatrix prints the map as a hosts × hosts table of the median RTTs in
// milliseconds ("-": no sample).
func WriteMatrix(w io.Writer, m Map) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if _, err := fmt.Fprintf(tw, "\t%s\t\n", strings.Join(m.Hosts, "\t")); err != nil {
		return err
	}
	for _, a := range m.Hosts {
		row := make([]string, 0, len(m.Hosts))
		for _, b := range m.Hosts {
			cell := "-"
			if p, ok := m.Pair(a, b); ok {
				cell = fmt.Sprintf("%.3f", p.RTT.Median)
			}
			row = append(row, cell)
		}
		if _, err := fmt.Fprintf(tw, "%s\t%s\t\n", a, strings.Join(row, "\t")); err != nil {
			return err
		}
	}
	return tw.Flush()
}
