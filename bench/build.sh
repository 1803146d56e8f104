# Sourced by the bench scripts: builds the bench pieces into build/bench/
# (bench producer BPF object, C consumer library and binary, bench classes).
arch=$(uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
mkdir -p build/bench/classes
[ -f build/bpf/vmlinux.h ] || make -s bpf
${CLANG:-clang} -O2 -g -target bpf -Wall -Werror -D__TARGET_ARCH_$arch -Ibuild/bpf -Ibpf \
  -c bench/ringfill.bpf.c -o build/bench/ringfill.bpf.o
${CC:-gcc} -O2 -Wall -Wextra -Ibpf -shared -fPIC bench/ring_c_consumer.c -o build/bench/libringbench.so -lbpf
${CC:-gcc} -O2 -Wall -Wextra bench/verifier-cost.c -o build/bench/verifier-cost -lbpf
${CC:-gcc} -O2 -Wall -Wextra -Ibpf -DRINGBENCH_MAIN bench/ring_c_consumer.c -o build/bench/ring_c_consumer -lbpf
"${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/javac" -nowarn -Xlint:-restricted -d build/bench/classes \
  -cp agent-java/target/busprobe.jar bench/java/io/busprobe/bench/*.java
