# heapviz: the tool, its tests and docs
