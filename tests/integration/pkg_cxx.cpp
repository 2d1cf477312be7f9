// A C++ program that allocates only through new and delete (and the
// standard containers): it names no function of the malloc family, so only
// libstdc++ calls malloc (pkgconfig.sh links it both ways).  With an
// argument it prints "ready" once a block of kBlock bytes is allocated and
// waits for standard input to close, so a heap viewer can read it live.  The
// block is never deleted, so a snapshot taken at exit shows it too.
#include <iostream>
#include <string>
#include <vector>
#include <unistd.h>

static const std::size_t kBlock = 7777;
static char *block;

int main(int argc, char **)
{
    block = new char[kBlock];
    std::vector<std::string> words;
    for (int i = 0; i < 1000; i++)
        words.push_back(std::string(static_cast<std::size_t>(i % 200), 'w'));
    std::size_t total = 0;
    for (const std::string &w : words)
        total += w.size();
    for (std::size_t i = 0; i < kBlock; i++)
        block[i] = static_cast<char>(i);
    if (argc > 1) {
        std::cout << "ready" << std::endl;
        char buf[64];
        while (read(STDIN_FILENO, buf, sizeof buf) > 0)
            ;
    }
    std::cout << "strings " << words.size() << " bytes " << total << std::endl;
    return 0;
}
