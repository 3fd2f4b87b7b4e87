// Command validate loads a Compose project exactly as `docker compose` does (compose-go: the
// same environment precedence, interpolation, JSON-schema validation, consistency checks and
// path resolution) and prints the normalized project as JSON, so the compose deployment can be
// checked on machines without a Docker engine.
//
//	validate --project-directory DIR -f FILE [-f FILE...] [--env-file FILE...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var files, envFiles repeated
	projectDir := flag.String("project-directory", "", "project directory (relative paths resolve against it)")
	projectName := flag.String("project-name", "", "project name (default: the file's `name:`)")
	flag.Var(&files, "f", "compose file (repeatable, later files override earlier ones)")
	flag.Var(&envFiles, "env-file", "env file for interpolation (repeatable, later files win)")
	flag.Parse()
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "validate: at least one -f FILE is required")
		os.Exit(2)
	}

	// The option order of docker compose's own loader: the process environment wins over the
	// env files, and the env files are read relative to the project directory.
	options, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(*projectDir),
		cli.WithOsEnv,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithName(*projectName),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "validate: %v\n", err)
	os.Exit(1)
}
