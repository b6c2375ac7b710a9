package topic

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// File is the YAML form of a topic spec:
//
//	apps:
//	  burritos:
//	    allowed:
//	      ordering: ["I want two chicken burritos", ...]
//	    disallowed:
//	      coding: ["Write a Python script", ...]
type File struct {
	Apps map[string]AppSpec `yaml:"apps"`
}

// Parse decodes a YAML topic spec (unknown fields are errors) and builds the
// classifier.
func Parse(data []byte) (*Classifier, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("topic: parse: %w", err)
	}
	if len(f.Apps) == 0 {
		return nil, errors.New("topic: parse: apps: at least one app is required")
	}
	return New(f.Apps)
}

// Load reads and parses a YAML topic spec file.
func Load(path string) (*Classifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topic: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
