"""Topic vocabularies of the synthetic world.

Each topic has its own small word lists so that captions, generation prompts and chat
snippets carry enough signal for a sentence-embedding model to recover the topic, while
shared templates and generic fillers keep the text from being a trivial keyword lookup.
Lists are `|`-separated strings only to keep this table short to read.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CAMERAS", "GENERIC_CAPTIONS", "STYLES", "TOPICS", "TOPIC_NAMES", "Topic"]


@dataclass(frozen=True)
class Topic:
    """One topic's words: things, activities (gerund phrases), places, subjects, tags."""

    name: str
    nouns: tuple[str, ...]
    actions: tuple[str, ...]
    places: tuple[str, ...]
    subjects: tuple[str, ...]
    adjectives: tuple[str, ...]
    tags: tuple[str, ...]


def _topic(name: str, nouns: str, actions: str, places: str, subjects: str, adjs: str,
           tags: str) -> Topic:
    def split(words: str) -> tuple[str, ...]:
        return tuple(w.strip() for w in words.split("|"))

    return Topic(name, split(nouns), split(actions), split(places), split(subjects),
                 split(adjs), split(tags))


TOPICS: tuple[Topic, ...] = (
    _topic("cooking", "ramen|sourdough bread|pasta carbonara|chocolate cake|street tacos|curry|"
           "cast iron pan|chef's knife", "making homemade ramen|baking sourdough|"
           "frying dumplings|plating a dessert|sharpening a kitchen knife|meal prepping",
           "in a tiny kitchen|at a night market|in a restaurant kitchen|on a campfire",
           "a home cook|a chef in a white apron|grandma", "crispy|spicy|creamy|homemade",
           "recipe|foodtok|homecooking"),
    _topic("skateboarding", "kickflip|skateboard deck|halfpipe|grip tape|ollie|skate shoes|"
           "mini ramp|rail grind", "landing kickflips|grinding a handrail|dropping in on a "
           "halfpipe|learning to ollie|bombing a hill|carving a bowl", "at the skatepark|"
           "down a city staircase|in an empty pool|on a rooftop ramp", "a skater|a crew of "
           "skaters|a kid on a board", "gnarly|clean|sketchy|smooth", "skate|kickflip|sk8"),
    _topic("cats", "kitten|cat tower|laser pointer|litter box|catnip toy|tabby cat|cardboard box|"
           "cat treats", "chasing a laser pointer|knocking a glass off the table|napping in a "
           "sunbeam|hiding in a cardboard box|kneading a blanket|zooming at 3am", "on the "
           "windowsill|in a laundry basket|on the sofa|under the bed", "a fluffy orange cat|"
           "a grumpy black cat|two kittens", "fluffy|grumpy|sleepy|chaotic", "cats|catsoftiktok|"
           "meow"),
    _topic("dance", "choreography|dance battle|hip hop routine|ballet pirouette|breakdance "
           "freeze|salsa step|dance trend|footwork combo", "learning a new choreography|"
           "doing a dance challenge|practicing pirouettes|freestyling to a beat|breaking on "
           "cardboard|teaching a salsa step", "in a dance studio|on a subway platform|at a "
           "street festival|on a stage with neon lights", "a dancer|a dance crew|two friends",
           "smooth|energetic|synced|graceful", "dance|dancechallenge|choreo"),
    _topic("fashion", "outfit|vintage jacket|sneakers|thrift haul|streetwear fit|handbag|"
           "capsule wardrobe|denim", "styling a thrifted jacket|putting together an outfit|"
           "unboxing designer sneakers|walking a runway|sewing a custom hoodie|"
           "ranking streetwear brands", "on a city sidewalk|in a fitting room|at a thrift "
           "store|on a runway", "a model|a stylist|a fashion student", "vintage|oversized|"
           "chic|minimalist", "ootd|fashion|thrift"),
    _topic("gaming", "speedrun|boss fight|controller|gaming setup|battle royale|retro console|"
           "headshot|loot drop", "speedrunning a platformer|beating the final boss|building a "
           "gaming pc|clutching a battle royale|playing a retro console|streaming a ranked "
           "match", "in a neon gaming room|at a lan party|inside a pixel-art world|at an "
           "esports arena", "a gamer with a headset|a pixel knight|a streamer", "insane|"
           "clutch|retro|competitive", "gaming|gamer|speedrun"),
    _topic("travel", "passport|backpack|hidden beach|mountain village|train ride|hostel|"
           "old town|travel itinerary", "backpacking through europe|exploring a hidden beach|"
           "packing a carry-on|catching a sunrise flight|hiking to a viewpoint|trying street "
           "food abroad", "in lisbon|on a night train|at a mountain pass|in a floating "
           "market", "a backpacker|a tour guide|two travelers", "breathtaking|budget|hidden|"
           "scenic", "travel|wanderlust|backpacking"),
    _topic("comedy", "prank|sketch|stand-up set|punchline|awkward moment|roast|impression|"
           "blooper", "pranking a roommate|doing a stand-up bit|acting out an awkward date|"
           "doing celebrity impressions|roasting a friend|reenacting a group chat",
           "at an open mic|in an office|at a family dinner|in a grocery store", "a comedian|"
           "a sitcom dad|a confused roommate", "hilarious|awkward|chaotic|deadpan",
           "comedy|funny|skit"),
    _topic("fitness", "deadlift|protein shake|home workout|running shoes|kettlebell|pull-up "
           "bar|leg day|yoga mat", "hitting a deadlift personal record|doing a hiit workout|"
           "training for a marathon|stretching after leg day|doing pull-ups|meal prepping "
           "protein", "in a garage gym|on a running track|at a crossfit box|in a park at "
           "dawn", "a personal trainer|a bodybuilder|a runner", "intense|sweaty|strong|"
           "beginner-friendly", "fitness|gymtok|workout"),
    _topic("music", "guitar riff|beat|piano cover|synthesizer|vinyl record|drum fill|"
           "chord progression|album", "playing a guitar solo|making a beat from scratch|"
           "covering a pop song on piano|producing a lo-fi track|playing drums in a garage|"
           "writing a chorus", "in a home studio|on a festival stage|in a subway busking "
           "spot|in a record store", "a singer|a band|a producer at a mixing desk", "catchy|"
           "lo-fi|acoustic|loud", "music|cover|producer"),
    _topic("science", "experiment|telescope|chemical reaction|microscope|black hole|rocket "
           "launch|physics demo|dna model", "doing a chemistry experiment|looking through a "
           "telescope|explaining quantum physics|launching a model rocket|growing crystals|"
           "observing cells under a microscope", "in a lab|at an observatory|in a science "
           "museum|on a launch pad", "a scientist in a lab coat|an astronaut|a physics "
           "teacher", "mind-blowing|explosive|curious|nerdy", "science|physics|stem"),
    _topic("pets", "golden retriever|puppy|hamster|parrot|dog park|pet bed|aquarium|bunny",
           "training a puppy to sit|giving a dog a bath|walking a golden retriever|teaching "
           "a parrot to talk|setting up an aquarium|grooming a bunny", "at the dog park|in "
           "the backyard|at the vet|on a beach walk", "a golden retriever|a clumsy puppy|"
           "a talking parrot", "adorable|clumsy|loyal|playful", "pets|dogsoftiktok|puppy"),
    _topic("art", "watercolor painting|sketchbook|oil canvas|charcoal portrait|mural|"
           "digital illustration|pottery wheel|acrylic pour", "painting a watercolor "
           "landscape|sketching a portrait|throwing a bowl on a pottery wheel|painting a "
           "street mural|drawing digital art|doing an acrylic pour", "in an art studio|"
           "on a brick wall|at a gallery opening|by a lake with an easel", "a painter|an "
           "illustrator|a potter", "colorful|detailed|abstract|satisfying", "art|painting|"
           "artist"),
    _topic("cars", "sports car|engine swap|drift car|classic mustang|turbo|car detailing|"
           "race track|electric car", "drifting around a corner|restoring a classic car|"
           "detailing a car interior|swapping an engine|racing on a track day|test driving "
           "an electric car", "on a mountain road|in a garage|at a car meet|on a race "
           "track", "a mechanic|a race driver|a car collector", "fast|loud|restored|sleek",
           "cars|carsoftiktok|jdm"),
    _topic("football", "free kick|goalkeeper save|bicycle kick|stadium chant|football boots|"
           "penalty shootout|jersey|derby match", "scoring a free kick|practicing "
           "dribbling skills|saving a penalty|juggling a football|celebrating a last-minute "
           "goal|training with the team", "in a packed stadium|on a street pitch|at a "
           "muddy training ground|on a beach pitch", "a striker|a goalkeeper|a football fan",
           "unstoppable|legendary|top-bins|tactical", "football|soccer|goal"),
    _topic("makeup", "eyeliner|foundation|lipstick|contour|eyeshadow palette|skincare "
           "routine|makeup brush|glam look", "doing a winged eyeliner|blending eyeshadow|"
           "trying a viral foundation|doing a night-out glam look|testing drugstore "
           "lipsticks|following a skincare routine", "at a vanity mirror|backstage at a "
           "show|in a bathroom with ring light|at a beauty counter", "a makeup artist|a "
           "beauty influencer|a drag queen", "glowy|flawless|bold|natural", "makeup|grwm|"
           "beauty"),
    _topic("diy", "bookshelf|power drill|epoxy table|cardboard build|home renovation|"
           "woodworking joint|led strip|paint roller", "building a bookshelf from scrap "
           "wood|pouring an epoxy river table|renovating a bathroom|installing led strips|"
           "upcycling old furniture|making a wooden joint", "in a garage workshop|in a "
           "small apartment|in a backyard shed|at a hardware store", "a carpenter|a "
           "handyman|a maker", "handmade|cheap|clever|sturdy", "diy|woodworking|homeproject"),
    _topic("gardening", "tomato plant|raised bed|compost|houseplant|seedlings|monstera|"
           "vegetable patch|pruning shears", "planting tomato seedlings|building a raised "
           "garden bed|repotting a monstera|making compost|harvesting vegetables|pruning "
           "roses", "in a backyard garden|in a greenhouse|on a balcony|at an allotment",
           "a gardener|a plant parent|a farmer", "lush|green|organic|thriving",
           "gardening|plants|growyourown"),
    _topic("anime", "anime opening|manga panel|cosplay|mecha|shonen fight|studio ghibli "
           "scene|figure collection|anime waifu", "drawing a manga panel|cosplaying an "
           "anime hero|reviewing a new anime season|recreating a ghibli scene|unboxing "
           "anime figures|ranking shonen fights", "at an anime convention|in a tokyo "
           "alley|in a cherry blossom park|in a manga cafe", "a cosplayer|an anime "
           "character|a manga artist", "epic|kawaii|dramatic|nostalgic", "anime|manga|"
           "otaku"),
    _topic("history", "ancient rome|medieval castle|world war|pharaoh|renaissance|viking "
           "ship|history documentary|old map", "explaining the fall of rome|touring a "
           "medieval castle|reading an old map|recreating a viking battle|visiting the "
           "pyramids|telling a forgotten history story", "in a castle ruin|at a museum|in "
           "ancient egypt|on a battlefield", "a historian|a roman legionary|a medieval "
           "knight", "ancient|forgotten|epic|medieval", "history|historytok|ancient"),
    _topic("finance", "stock market|budget spreadsheet|index fund|crypto chart|savings "
           "account|credit score|side hustle|retirement plan", "explaining index funds|"
           "making a monthly budget|reacting to a stock crash|paying off debt|starting a "
           "side hustle|building an emergency fund", "at a trading desk|at a kitchen table|"
           "in a bank|in a home office", "a financial advisor|a day trader|a frugal "
           "student", "passive|frugal|volatile|smart", "finance|money|investing"),
    _topic("tech", "smartphone|mechanical keyboard|laptop|robot|vr headset|coding setup|"
           "drone|ai chatbot", "unboxing a new smartphone|building a mechanical keyboard|"
           "coding an app|testing a vr headset|flying a drone|building a robot",
           "at a desk setup|at a tech conference|in a hardware lab|in a server room",
           "a programmer|a tech reviewer|a robot", "futuristic|fast|sleek|smart",
           "tech|coding|gadgets"),
    _topic("movies", "movie trailer|film scene|plot twist|cinema|movie review|director's "
           "cut|horror film|oscar", "reviewing a new movie|recreating a famous film scene|"
           "explaining a plot twist|ranking horror films|reacting to a trailer|shooting a "
           "short film", "in a movie theater|on a film set|at a red carpet|in a home "
           "cinema", "a film critic|a movie director|an actor", "cinematic|iconic|"
           "underrated|terrifying", "movies|film|cinema"),
    _topic("nature", "waterfall|rainforest|northern lights|wild deer|mountain lake|"
           "thunderstorm|coral reef|wildflowers", "hiking to a waterfall|watching the "
           "northern lights|spotting wild animals|camping under the stars|snorkeling over "
           "a coral reef|filming a thunderstorm", "in a national park|in a rainforest|on "
           "a glacier|by a mountain lake", "a hiker|a wildlife photographer|a deer",
           "peaceful|wild|majestic|serene", "nature|wildlife|outdoors"),
)

TOPIC_NAMES: tuple[str, ...] = tuple(t.name for t in TOPICS)

GENERIC_CAPTIONS: tuple[str, ...] = (
    "wait for it", "part 2 because you asked", "no thoughts just vibes", "sound on",
    "had to post this", "I can't believe this actually worked", "tell me why this is me",
    "this took way too long", "watch till the end", "ok but why is this so good",
)

STYLES: tuple[str, ...] = (
    "cinematic", "anime-style", "claymation", "vhs footage", "hyperrealistic", "pixar-style",
    "black and white film", "watercolor animation", "documentary style", "retro 90s",
)

CAMERAS: tuple[str, ...] = (
    "slow motion", "handheld camera", "drone shot", "golden hour lighting", "close-up",
    "wide angle", "timelapse", "first-person view",
)
