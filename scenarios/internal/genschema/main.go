// Command genschema writes the Scenario kind's JSON Schema (scenarios.JSONSchema)
// to a file; `go generate ./scenarios` runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ambientlab/ambientlab/scenarios"
)

func main() {
	out := flag.String("o", "schema.json", "output file")
	flag.Parse()
	b, err := scenarios.JSONSchema()
	if err == nil {
		err = os.WriteFile(*out, append(b, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
}
