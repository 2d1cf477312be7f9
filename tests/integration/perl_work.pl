# Workload for perl.sh: hashes, regexes, sort, string building, with a
# checksum per phase.  Hash order is never printed without sorting, so the
# output does not depend on Perl's hash seed.
use strict;
use warnings;

sub checksum { return unpack("%32C*", join("\0", @_)) }

# A deterministic generator, so that no run depends on rand()'s seed.
my $state = 42;
sub next_rand { $state = ($state * 1103515245 + 12345) % 2147483648; return $state >> 8 }

# Hashes: a word count over generated text, then a hash of arrays.
my @syll = qw(ka lo mi ne ru shi to ya ze);
my %count;
my @words;
for my $i (1 .. 150_000) {
    my $n = 1 + next_rand() % 4;
    my $w = join "", map { $syll[next_rand() % @syll] } 1 .. $n;
    push @words, $w;
    $count{$w}++;
}
my @top = (sort { $count{$b} <=> $count{$a} or $a cmp $b } keys %count)[0 .. 4];
printf "hash: %d distinct, top %s, sum %d\n", scalar(keys %count),
    join(",", map {"$_=$count{$_}"} @top), checksum(sort keys %count);

my %by_len;
push @{ $by_len{ length $_ } }, $_ for @words;
printf "hash of arrays: %s\n",
    join(" ", map { "$_:" . scalar(@{ $by_len{$_} }) } sort { $a <=> $b } keys %by_len);
delete @count{ grep { /^ka/ } keys %count };
printf "after delete: %d\n", scalar(keys %count);

# Regexes: captures, substitutions, split, tr.
my $text = join " ", @words[0 .. 39_999];
my @matches = $text =~ /\b((?:shi|ru)\w*?to)\b/g;
(my $subst = $text) =~ s/(ka|ya)(\w)/uc($1) . "<$2>"/ge;
my $vowels = ($text =~ tr/aeiou//);
my @fields = split /(?:mi|ne)+/, $text;
printf "regex: %d matches, %d vowels, %d fields, subst %d chars, sum %d\n",
    scalar(@matches), $vowels, scalar(@fields), length($subst), checksum($subst);
my %named;
while ($text =~ /(?<head>ze)(?<tail>\w{2,6})/g) { $named{ $+{tail} }++ }
printf "named captures: %d distinct tails\n", scalar(keys %named);

# Sort: numeric, string, Schwartzian transform, stable multi-key.
my @nums = map { next_rand() % 1_000_000 } 1 .. 200_000;
my @sorted = sort { $a <=> $b } @nums;
my @rsorted = reverse sort @words[0 .. 49_999];
my @st = map { $_->[1] } sort { $a->[0] <=> $b->[0] or $a->[1] cmp $b->[1] }
    map { [ length($_), $_ ] } @words[0 .. 49_999];
printf "sort: min %d max %d median %d, first %s last %s, st %s..%s, sum %d\n",
    $sorted[0], $sorted[-1], $sorted[ @sorted / 2 ], $rsorted[0], $rsorted[-1],
    $st[0], $st[-1], checksum(@st[0 .. 999]);

# Strings: growth by appending, repetition, sprintf, substr, join.
my $big = "";
$big .= sprintf("%05d:%s;", $_, "x" x ($_ % 50)) for 1 .. 60_000;
substr($big, 1000, 5000) = "";
my $rep = "ab" x 100_000;
printf "strings: %d %d %d %d\n", length($big), checksum($big), length($rep),
    index($big, "59999:");
