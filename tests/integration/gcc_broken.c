/* Input for gcc_compile.sh: does not compile.  gcc's error path must
 * behave the same on glibc and on pmalloc (same messages, same status). */
struct point {
    int x, y;
};

int area(struct point p)
{
    return p.x * p.z;
}

int main(void)
{
    struct point p = {1, 2};
    return area(p) + undeclared_variable;
}
