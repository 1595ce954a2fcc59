package scenarios

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// LoadFile reads and loads one scenario file.
func LoadFile(file string) (*Resolved, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, manifest.ErrorList{{File: file, Msg: err.Error()}}
	}
	return Load(file, data)
}

// Load decodes, validates and resolves one scenario file's contents; name is
// used in messages. It returns every problem at once as a manifest.ErrorList,
// and no scenario unless the file is entirely valid.
func Load(name string, data []byte) (*Resolved, error) {
	if len(data) > manifest.MaxFileSize {
		return nil, manifest.ErrorList{{File: name, Msg: fmt.Sprintf("file is larger than the %d MiB limit", manifest.MaxFileSize>>20)}}
	}
	set, err := manifest.Decode(name, data)
	if err != nil {
		return nil, err
	}
	var (
		scObj manifest.Object
		found int
		errs  manifest.ErrorList
	)
	for _, o := range set.Objects {
		if o.GVK != GVK {
			continue
		}
		found++
		if found == 1 {
			scObj = o
		} else {
			errs = append(errs, o.ErrorAt("", "a scenario file holds exactly one Scenario document; the first is at line %d", scObj.Source.Line))
		}
	}
	if found == 0 {
		return nil, manifest.ErrorList{{File: name, Line: 1, Msg: "no `kind: Scenario` document (apiVersion " + GroupVersion.String() + ") in this file"}}
	}
	c := newCompiler(name, data, scObj, set)
	r := c.compile()
	errs = append(errs, c.errs...)
	if len(errs) > 0 {
		return nil, errs.Sort()
	}
	sum := sha256.Sum256(data)
	r.Hash = hex.EncodeToString(sum[:])
	return r, nil
}

// LoadPaths loads scenario files and directories (recursively, *.yaml and
// *.yml, sorted by path). It returns all problems of all files at once, and no
// scenarios unless every file is valid, so a run creates nothing when any
// file is wrong. Scenario names must be unique across the set.
func LoadPaths(paths ...string) ([]*Resolved, error) {
	var files []string
	var errs manifest.ErrorList
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &manifest.Error{File: p, Msg: err.Error()})
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isYAML(f) {
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, &manifest.Error{File: p, Msg: err.Error()})
		}
	}
	return loadAll(files, os.ReadFile, errs)
}

// LoadFS loads every scenario file under root in fsys (e.g. Library).
func LoadFS(fsys fs.FS, root string) ([]*Resolved, error) {
	var files []string
	err := fs.WalkDir(fsys, root, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isYAML(f) {
			files = append(files, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loadAll(files, func(f string) ([]byte, error) { return fs.ReadFile(fsys, f) }, nil)
}

func isYAML(f string) bool {
	ext := strings.ToLower(path.Ext(f))
	return ext == ".yaml" || ext == ".yml"
}

func loadAll(files []string, read func(string) ([]byte, error), errs manifest.ErrorList) ([]*Resolved, error) {
	sort.Strings(files)
	var out []*Resolved
	byName := map[string]*Resolved{}
	for _, f := range files {
		data, err := read(f)
		if err != nil {
			errs = append(errs, &manifest.Error{File: f, Msg: err.Error()})
			continue
		}
		r, err := Load(f, data)
		if err != nil {
			var l manifest.ErrorList
			if errors.As(err, &l) {
				errs = append(errs, l...)
			} else {
				errs = append(errs, &manifest.Error{File: f, Msg: err.Error()})
			}
			continue
		}
		if prev, dup := byName[r.Name]; dup {
			errs = append(errs, &manifest.Error{File: f, Line: r.Line, Kind: "Scenario", Name: r.Name, Field: "metadata.name",
				Msg: fmt.Sprintf("duplicate scenario name; first defined in %s:%d", prev.File, prev.Line)})
			continue
		}
		byName[r.Name] = r
		out = append(out, r)
	}
	if len(errs) > 0 {
		return nil, errs.Sort()
	}
	return out, nil
}
