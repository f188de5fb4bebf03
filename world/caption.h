// The world's caption grammar (WORLD.md "Captions"): parsing a caption into
// requirements, the canonical text of requirements, and checking requirements
// against a list of objects with GenEval's rules. The evaluator (eval.h) and
// the scene-level oracle (world_reqs_check_scene) share the checking code, so
// they can only differ in what they see, never in how they judge.
//
// Grammar (words are lower-cased; punctuation separates words):
//   caption  := ["a" "photo" "of"] phrase [link phrase] ["on" ("a"|"the") style "background"]
//   phrase   := det adjective* noun          at most one size and one colour adjective, any order
//   det      := "a" | "an" | "two" | "three" | "four"
//   link     := "and" | ["to" "the"] ("left" | "right") "of" | "above" | "below"
//   noun     := circle(s) | square(s) | triangle(s) | cross(es)   (singular or plural accepted)
//   style    := plain | gradient | striped | dotted | checkered
// A relation needs a single object on both sides. "a"/"an" means at least
// one; a number word means exactly that many (GenEval counting: include N,
// exclude N+1).
#ifndef WORLD_CAPTION_H
#define WORLD_CAPTION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "world/render.h"

#define WORLD_MAX_PHRASES 2
#define WORLD_CAPTION_MAX 160  // bytes, NUL included, of any caption the world writes
#define WORLD_MAX_REQS 6

typedef enum world_relation {
    WORLD_REL_NONE,
    WORLD_REL_LEFT_OF,
    WORLD_REL_RIGHT_OF,
    WORLD_REL_ABOVE,
    WORLD_REL_BELOW,
    WORLD_REL_COUNT
} world_relation;

// "none", "left of", "right of", "above", "below".
const char *world_relation_name(world_relation r);
silt_status world_relation_from_name(const char *name, world_relation *out);

// GenEval's prompt categories (WORLD.md table).
typedef enum world_category {
    WORLD_CAT_SINGLE_OBJECT,
    WORLD_CAT_TWO_OBJECTS,
    WORLD_CAT_COUNTING,
    WORLD_CAT_COLOURS,
    WORLD_CAT_POSITION,
    WORLD_CAT_COLOUR_ATTRIBUTION,
    WORLD_CAT_BACKGROUND,
    WORLD_CAT_COUNT
} world_category;

// "single_object", "two_objects", "counting", "colours", "position",
// "colour_attribution", "background".
const char *world_category_name(world_category c);
silt_status world_category_from_name(const char *name, world_category *out);

typedef struct world_phrase {
    int count;          // 1..4
    bool exact;         // said with a number word: exactly `count` matching objects
    world_shape shape;
    int colour;         // world_colour, or -1: any
    int size;           // world_size, or -1: any
} world_phrase;

typedef struct world_reqs {
    int n_phrases;                        // 1 or 2
    world_phrase phrases[WORLD_MAX_PHRASES];
    world_relation relation;              // phrase 0 relative to phrase 1, or NONE ("and")
    int bg_style;                         // world_bg_style, or -1: any
} world_reqs;

// The fixed vocabulary (under 64 words), in a stable order: the world
// tokenizer's ids are 4 + this index.
int world_vocab_size(void);
const char *world_vocab_word(int i);          // NULL out of range
int world_vocab_find(const char *word);       // index, or -1

// Word splitting shared by the parser and the tokenizer: from text[*pos],
// skips separators (ASCII whitespace and punctuation), copies the next word
// lower-cased into buf (cut to n-1 bytes, NUL-terminated) and advances *pos.
// Bytes >= 0x80 are word characters (so "rouge\xc3\xa9" stays one unknown
// word). Returns false when no word is left.
bool world_caption_next_word(const char *text, size_t *pos, char *buf, size_t n);

// Parses a caption. On failure *out is unchanged and the message names the
// problem: every unknown word ("unknown words: 'dog', 'big'"), or the word
// where the grammar broke and what was expected there.
silt_status world_caption_parse(const char *caption, world_reqs *out);
// SILT_OK when the requirements are well formed (ranges, relation only
// between single objects); the parser's output always is.
silt_status world_reqs_validate(const world_reqs *r);
// Canonical caption ("two large red circles left of ..." is never produced:
// relations join single objects): det [size] [colour] noun, joined by " and "
// or " <relation> ", then " on a <style> background". Round trip:
// parse(format(r)) == r for every valid r.
silt_status world_caption_format(const world_reqs *r, char *out, size_t n);
// The most specific category a caption belongs to: position, background,
// counting, colour_attribution (two phrases, both coloured, colours differ),
// two_objects, colours (one coloured phrase), single_object.
world_category world_reqs_category(const world_reqs *r);
// Total objects the requirements name (sum of counts).
int world_reqs_object_count(const world_reqs *r);

// What the checker sees of one object: its class and its box (centre and
// width/height in any unit, the same for every object).
typedef struct world_observed {
    int shape;   // world_shape, or -1: not recognised (matches no phrase)
    int colour;  // world_colour
    int size;    // world_size
    double cx, cy, w, h;
} world_observed;

// GenEval's position rule (geneval evaluation/evaluate_images.py,
// relative_position, POSITION_THRESHOLD 0.1): offset = centre_a - centre_b;
// revised = max(|offset| - 0.1 (dim_a + dim_b), 0) sign(offset);
// (dx, dy) = revised / |offset|; left of: dx < -0.5, right of: dx > 0.5,
// above: dy < -0.5, below: dy > 0.5 (y grows downwards). Returns the set of
// relations of a relative to b as bits (1u << relation); dx, dy (optional)
// get the normalised revised offset.
#define WORLD_POSITION_THRESHOLD 0.1
unsigned world_relations(const world_observed *a, const world_observed *b, double *dx, double *dy);
// Stricter test used when generating scenes, so that a relation survives
// measurement error: the relation's own component is beyond 0.7 (not 0.5)
// and no other relation holds.
bool world_relation_clear(const world_observed *a, const world_observed *b, world_relation rel);

typedef enum world_req_kind {
    WORLD_REQ_OBJECTS,     // phrase i: enough (or exactly enough) matching objects
    WORLD_REQ_RELATION,    // some object of phrase 0 stands in the relation to some other of phrase 1
    WORLD_REQ_DISTINCT,    // phrases that could match the same object are met by distinct objects
    WORLD_REQ_BACKGROUND,  // the background style
} world_req_kind;

const char *world_req_kind_name(world_req_kind k);  // "objects", "relation", "distinct", "background"
silt_status world_req_kind_from_name(const char *name, world_req_kind *out);

typedef struct world_req_result {
    world_req_kind kind;
    int phrase;      // WORLD_REQ_OBJECTS: which phrase; else -1
    bool met;
    int found;       // matching objects (OBJECTS), or -1
    char text[128];  // "exactly 3 yellow triangles: found 2"
} world_req_result;

typedef struct world_check {
    bool pass;        // every requirement met
    double score;     // fraction of requirements met, in [0, 1]
    int n_reqs;
    world_req_result reqs[WORLD_MAX_REQS];
} world_check;

// The list of requirements depends on the caption only (one per phrase, the
// relation if any, DISTINCT when two phrases could match one object, the
// background if named), so soft scores of different images of one caption
// are comparable. bg_style: the observed style (or -1: unknown).
void world_reqs_check(const world_reqs *r, const world_observed *obj, int n_obj, int bg_style, world_check *out);
// The oracle: the same check on a scene's exact objects and background.
void world_reqs_check_scene(const world_reqs *r, const world_scene *s, world_check *out);
// A scene object as the checker sees it (box in world units).
world_observed world_observe_object(const world_object *o);

#endif
