package build

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

// SystemProvenance returns base with the fields the running process knows
// filled in where base leaves them empty: GoVersion (runtime.Version()),
// Kernel (uname -r), and HarnessVersion and Commit from the binary's build
// information. Fields the caller set (a version stamped with -ldflags, say)
// win. It fails only if the kernel release cannot be read.
func SystemProvenance(base v1.Provenance) (v1.Provenance, error) {
	if base.GoVersion == "" {
		base.GoVersion = runtime.Version()
	}
	if base.Kernel == "" {
		k, err := KernelRelease()
		if err != nil {
			return base, err
		}
		base.Kernel = k
	}
	info, _ := debug.ReadBuildInfo()
	version, commit := VersionFromBuildInfo(info)
	if base.HarnessVersion == "" {
		base.HarnessVersion = version
	}
	if base.Commit == "" {
		base.Commit = commit
	}
	return base, nil
}

// VersionFromBuildInfo returns the main module's version ("dev" for a local
// build, whose version is "(devel)") and the VCS revision with "-dirty" when
// the tree was modified. The revision is empty when the binary was built
// with -buildvcs=false, as the Makefile does; it then stamps the version
// from `git describe` instead.
func VersionFromBuildInfo(info *debug.BuildInfo) (version, commit string) {
	version = "dev"
	if info == nil {
		return version, ""
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		version = v
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if commit != "" && modified {
		commit += "-dirty"
	}
	return version, commit
}

// ScenarioHash returns "sha256:<hex>" over named scenario documents,
// independent of map order. Each name and document is length-prefixed, so
// moving bytes between a name and its content changes the hash.
func ScenarioHash(docs map[string][]byte) string {
	h := sha256.New()
	var n [8]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		write([]byte(name))
		write(docs[name])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Digest returns "sha256:<hex>" of b, the form Evidence.Digest and Image.Digest take.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CIRunURL returns the URL of the current CI run from the CI's environment,
// or "" outside CI. getenv is injected (os.Getenv in a main) so nothing here
// reads the environment behind the caller's back. It knows GitHub Actions
// and GitLab CI.
func CIRunURL(getenv func(string) string) string {
	if server, repo, run := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"); server != "" && repo != "" && run != "" {
		return fmt.Sprintf("%s/%s/actions/runs/%s", server, repo, run)
	}
	return getenv("CI_JOB_URL")
}
