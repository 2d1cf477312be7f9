# The perl part of the real-program benchmark (bench/real_programs.py):
# `perl real_work.pl STEPS [PERCENT]`.  Hashes keyed by generated strings,
# string building, regular expressions, split and join, sort, and nested
# hashes of arrays replaced at random: perl allocates for every string and
# every hash entry.  The input is a fixed pseudo-random sequence and the
# output a few summary lines with the keys sorted, so the driver can
# compare them between allocators whatever perl's hash order.
use strict;
use warnings;

my ($steps, $size) = @ARGV;
die "usage: real_work.pl STEPS [PERCENT]\n"
    unless defined $steps && $steps =~ /^\d+$/ && (!defined $size || $size =~ /^\d+$/);
$size //= 100;

my $x = 12345;
sub rnd { $x = ($x * 1103515245 + 12345) % 2147483648; return $x >> 4; }

my @syl = qw(ka lo mi ne ru sha to vi zen qua);
sub word { my $n = 1 + rnd() % 4; return join '', map { $syl[rnd() % 10] } 1 .. $n; }

for my $step (1 .. $steps) {
    # Word counts over generated text.
    my @text = map { word() } 1 .. 300 * $size;
    my $doc = join ' ', @text;
    my %count;
    $count{$_}++ for split / /, $doc;
    my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 4];
    print "words $step ", scalar(keys %count), " @top\n";

    # Substitutions and matches build new strings.
    (my $edited = $doc) =~ s/(ka|zen)(\w*)/\U$1\E-$2/g;
    my $matches = () = $edited =~ /KA-\w+/g;
    my @parts = split /ZEN/, $edited;
    print "regex $step $matches ", scalar(@parts), " ", length($edited), "\n";

    # Records: a hash of hashes of arrays, grouped and summed.
    my %rec;
    for my $i (1 .. 100 * $size) {
        my $k = sprintf 'r%05d', rnd() % 5000;
        push @{ $rec{$k}{vals} }, rnd() % 1000;
        $rec{$k}{name} .= substr(word(), 0, 3);
    }
    my ($sum, $longest) = (0, 0);
    for my $k (sort keys %rec) {
        $sum += $_ for @{ $rec{$k}{vals} };
        $longest = length $rec{$k}{name} if length $rec{$k}{name} > $longest;
    }
    print "records $step ", scalar(keys %rec), " $sum $longest\n";

    # A working set of strings and arrays, one replaced at random each step.
    my @slot = (undef) x 2048;
    for (1 .. 100 * $size) {
        my $i = rnd() % 2048;
        my $kind = rnd() % 3;
        $slot[$i] = $kind == 0 ? 'x' x (rnd() % 2000)
                  : $kind == 1 ? [ map { word() } 1 .. rnd() % 20 ]
                  : undef;
    }
    my $live = 0;
    for (@slot) {
        $live += ref $_ ? scalar(@$_) : length $_ if defined $_;
    }
    print "churn $step $live\n";
}
