module github.com/synfin/synfin

go 1.26.8
